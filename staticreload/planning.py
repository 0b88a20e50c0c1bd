"""Change planning: changed paths -> the targets' files -> modules -> the closure to reload.

It also owns the retry of a failed reload: what a failed reload tried to
apply is planned again with every later reload, until one succeeds, so a
fixed edit recovers on its own.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from staticreload.dependency_map import DependencyMap, PathOrModule
from staticreload.exceptions import NotInMapError, ReloadError, SourceSyntaxError
from staticreload.sources import is_ignored, module_for_path

__all__ = ["ChangePlanner", "Plan"]


@dataclass(frozen=True)
class Plan:
    """What one reload applies.

    Attributes:
        changed: the changed modules (a deleted one included), sorted.
        affected: the loaded modules to evict and import again.
    """

    changed: tuple[str, ...]
    affected: frozenset[str]


class ChangePlanner:
    """Turns file changes into a :class:`Plan`, against a :class:`DependencyMap`.

    Attributes:
        map: the dependency map; :meth:`plan` updates it for the changed files.
        exclude: module name patterns (``fnmatch``) never reloaded.
    """

    def __init__(self, dependency_map: DependencyMap, *, exclude: Iterable[str] = ()) -> None:
        self.map = dependency_map
        self.exclude = tuple(exclude)
        # What a failed reload tried to apply: planned again with every later one.
        self._failed_files: set[Path] = set()
        self._failed_modules: set[str] = set()

    @property
    def failing(self) -> bool:
        """Whether the last reload failed and its files are still to be applied."""
        return bool(self._failed_files)

    def files_for(self, paths: Iterable[PathOrModule]) -> set[Path]:
        """The targets' source files that changed paths stand for.

        A folder stands for the files in it (and, if deleted, the files the map
        knew in it). Paths outside the targets, also through a symlink or
        ``..``, and ignored files (see :func:`staticreload.sources.is_ignored`)
        are dropped.
        """
        files: set[Path] = set()
        for raw in paths:
            path = Path(os.path.abspath(raw)).resolve()
            tree = next((t for t in self.map.trees if t.contains(path)), None)
            if tree is None or is_ignored(path, tree.root):
                continue
            if self.map.module_of(path) is not None or module_for_path(path, self.map.trees):
                files.add(path)
            if not path.is_file():  # a folder, or a deleted one
                files |= self._files_under(path, tree.root)
        return files

    def _files_under(self, folder: Path, tree_root: Path) -> set[Path]:
        known = {self.map.path_of(m) for m in self.map.modules}
        files = {path for path in known if folder in path.parents}
        if folder.is_dir():
            for found in folder.rglob("*.py"):
                path = found.resolve()  # a symlink may point outside the tree
                if is_ignored(found, tree_root) or not any(
                    t.contains(path) for t in self.map.trees
                ):
                    continue
                if self.map.module_of(path) is not None or module_for_path(path, self.map.trees):
                    files.add(path)
        return files

    def module_name(self, path: Path) -> str | None:
        """The module a file is, or would be if it were in the map."""
        module = self.map.module_of(path)
        if module is None:
            found = module_for_path(path, self.map.trees)
            module = found[0] if found else None
        return module

    def is_excluded(self, module: str) -> bool:
        """Whether ``module`` matches an ``exclude`` pattern."""
        return any(fnmatch.fnmatchcase(module, pattern) for pattern in self.exclude)

    def pending(self, files: Iterable[Path]) -> set[Path]:
        """The files to apply now: these plus a failed reload's, less excluded modules."""
        return {
            path
            for path in {*files, *self._failed_files}
            if (module := self.module_name(path)) is None or not self.is_excluded(module)
        }

    def plan(self, files: Collection[Path], loaded: Collection[str]) -> Plan:
        """Update the map for the files; return the changed and affected modules.

        The closure is taken both before the update (the importers of a deleted
        module, of an import just removed) and after it (importers of a new
        module), plus whatever a failed reload tried to reload.

        Args:
            files: the files to apply (see :meth:`pending`).
            loaded: the module names loaded now (``sys.modules``).

        Raises:
            ReloadError: the file of a loaded module cannot be parsed; the map
                is left as it was for that file (one nothing loaded is only
                left out of the map).
        """
        before = {m for m in map(self.map.module_of, files) if m is not None}
        affected = self.map.closure(before)
        changed = []
        for path in sorted(files):
            try:
                changed.append(self.map.update_file(path))
            except NotInMapError:
                continue  # not a module: a file in a folder without __init__.py
            except SourceSyntaxError as error:
                if self.module_name(path) not in loaded:
                    self.map.unparsed[path] = error  # joins the map once it parses
                    continue
                failure = ReloadError(
                    error.reason,
                    module=self.module_name(path),
                    path=error.path,
                    lineno=error.lineno,
                )
                raise failure from error
        affected |= self.map.closure(m for m in changed if m in self.map)
        affected |= set(changed)
        # The map may have forgotten why (a deleted module's edges are gone).
        affected |= self._failed_modules
        return Plan(
            tuple(sorted(set(changed))),
            frozenset(m for m in affected if m in loaded and not self.is_excluded(m)),
        )

    def everything_loaded(self, loaded: Collection[str]) -> frozenset[str]:
        """Every loaded module of the map that is not excluded: a whole-project reload."""
        return frozenset(m for m in self.map.modules if m in loaded and not self.is_excluded(m))

    def record(self, files: Collection[Path], affected: Collection[str], *, ok: bool) -> None:
        """Remember the outcome: a failure's files and modules are planned again later."""
        if ok:
            self._failed_files, self._failed_modules = set(), set()
        else:  # the files include the earlier failure's (see pending)
            self._failed_files = set(files)
            self._failed_modules |= set(affected)
