"""Evict, re-import and roll back: the only code that changes ``sys.modules``.

The import system's rules this module follows (CPython's ``importlib._bootstrap``):

- Importing ``pkg.sub`` sets ``sub`` as an attribute of ``pkg``, but only when it
  loads ``pkg.sub``. A package imported again therefore lacks the submodules
  that stayed in ``sys.modules``: its loader attaches them again.
- ``from pkg import sub`` takes the attribute ``pkg.sub`` before it looks in
  ``sys.modules``: an evicted submodule must also leave its parent's
  attributes, or importers silently get the old module.
- A failed import removes only the failing module and keeps whatever it
  imported, so a failed reload restores a snapshot of ``sys.modules``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType

__all__ = [
    "DISPOSE_HOOK",
    "CodeCache",
    "Snapshot",
    "evict",
    "import_in_order",
    "remove_stale_bytecode",
    "restore",
]

logger = logging.getLogger(__name__)

DISPOSE_HOOK = "__staticreload_dispose__"


@dataclass
class Snapshot:
    """``sys.modules`` as it was before an eviction, and the parent attributes it removed.

    Attributes:
        modules: a copy of ``sys.modules``.
        evicted: the names removed from ``sys.modules``.
        detached: ``(parent module, attribute, old submodule)`` for every
            attribute taken off a parent package that stayed loaded.
    """

    modules: dict[str, ModuleType]
    evicted: frozenset[str]
    detached: list[tuple[ModuleType, str, ModuleType]] = field(default_factory=list)


def _parent_and_child(name: str) -> tuple[str, str]:
    parent, _, child = name.rpartition(".")
    return parent, child


def dispose(names: Iterable[str]) -> None:
    """Call ``__staticreload_dispose__()`` of each loaded module that defines one.

    A module uses it to release what it holds (a socket, a thread) before it is
    evicted. Exceptions are logged, not raised: a broken dispose hook must not
    stop the reload.
    """
    for name in names:
        hook = getattr(sys.modules.get(name), DISPOSE_HOOK, None)
        if callable(hook):
            try:
                hook()
            except Exception:
                logger.exception("%s.%s() raised; reloading anyway", name, DISPOSE_HOOK)


def evict(names: Iterable[str]) -> Snapshot:
    """Remove modules from ``sys.modules`` and from their parents' attributes.

    Args:
        names: the modules to evict; names not loaded are skipped.

    Returns:
        A snapshot to :func:`restore` if importing them again fails.
    """
    evicted = frozenset(name for name in names if name in sys.modules)
    snapshot = Snapshot(dict(sys.modules), evicted)
    for name in evicted:
        module = sys.modules.pop(name)
        parent_name, child = _parent_and_child(name)
        parent = sys.modules.get(parent_name) if parent_name not in evicted else None
        if parent is not None and getattr(parent, child, None) is module:
            delattr(parent, child)
            snapshot.detached.append((parent, child, module))
    return snapshot


def remove_stale_bytecode(paths: Iterable[Path], *, invalidate_caches: bool = True) -> None:
    """Delete the cached bytecode of changed files; clear the finders' caches if asked.

    An edit that keeps the file size within the same second would otherwise load
    the old ``.pyc`` (its validation uses mtime and size), and a new file is
    invisible to the path finder's directory cache until it is cleared. Pass
    ``invalidate_caches=False`` when no file is new: clearing makes the next
    imports list their folders again.
    """
    for path in paths:
        with contextlib.suppress(OSError, ValueError, NotImplementedError):
            os.remove(importlib.util.cache_from_source(os.fspath(path)))
    if invalidate_caches:
        importlib.invalidate_caches()


class CodeCache:
    """Code objects of source files, valid while a file's mtime (ns) and size stay the same.

    The in-memory counterpart of ``__pycache__``: an unchanged module in the
    closure is executed again without being compiled again, even when
    bytecode files are not written (``PYTHONDONTWRITEBYTECODE``). Code objects
    are immutable, so running one twice is running the same source twice.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, int, CodeType]] = {}

    @staticmethod
    def _key(path: str) -> tuple[int, int] | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def get(self, path: str) -> CodeType | None:
        """The cached code of ``path`` if the file is unchanged since it was stored."""
        entry = self._entries.get(path)
        if entry is None or self._key(path) != entry[:2]:
            return None
        return entry[2]

    def put(self, path: str, code: CodeType, key: tuple[int, int] | None = None) -> None:
        """Store the code of ``path``, for the file as it is now (or as ``key`` says)."""
        key = key or self._key(path)
        if key is not None:
            self._entries[path] = (*key, code)


class _ReloadLoader(importlib.machinery.SourceFileLoader):
    """A source file loader that takes code from the reload's compile step or the cache."""

    def __init__(
        self, fullname: str, path: str, cache: CodeCache, compiled: CodeType | None
    ) -> None:
        super().__init__(fullname, path)
        self._cache = cache
        self._compiled = compiled

    def exec_module(self, module: ModuleType) -> None:
        """Run the module; a package gets its loaded submodules as attributes around it.

        In a fresh process ``import pkg.sub`` sets ``pkg.sub`` as it loads the
        submodule; here ``pkg.sub`` may still be loaded from before, and
        importing it again sets nothing. Attached before ``__init__`` runs, so
        that ``import pkg.sub; pkg.sub.X`` works inside it, and again after, as
        later imports of the submodules would have done.
        """
        is_package = hasattr(module, "__path__")
        if is_package:
            _attach_submodules(module)
        super().exec_module(module)
        if is_package:
            _attach_submodules(module)

    def get_code(self, fullname: str) -> CodeType | None:
        if fullname != self.name:
            return super().get_code(fullname)
        code, self._compiled = self._compiled, None
        if code is None:
            code = self._cache.get(self.path)
        if code is None:
            key = CodeCache._key(self.path)  # before reading: a later write misses the cache
            code = super().get_code(fullname)
            if code is not None:
                self._cache.put(self.path, code, key)
        return code


class _KnownFilesFinder(importlib.abc.MetaPathFinder):
    """Finds the modules being reloaded at the files the map knows, once each.

    That skips the path finder's search of ``sys.path`` for every module of the
    closure; the spec is the one the path finder would build (a source file
    loader at that file). Changed modules run the code the reload compiled, so
    the import runs exactly the source that was checked, even if the file is
    written again meanwhile, and nothing is compiled twice.
    """

    def __init__(
        self, files: Mapping[str, Path], compiled: Mapping[str, CodeType], cache: CodeCache
    ) -> None:
        self._files = dict(files)
        self._compiled = compiled
        self._cache = cache

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        file = self._files.pop(fullname, None)
        if file is None:
            return None
        location = os.fspath(file)
        loader = _ReloadLoader(fullname, location, self._cache, self._compiled.get(fullname))
        is_package = file.name == "__init__.py"
        return importlib.util.spec_from_file_location(
            fullname,
            location,
            loader=loader,
            submodule_search_locations=[os.fspath(file.parent)] if is_package else None,
        )


def import_in_order(
    names: Iterable[str],
    files: Mapping[str, Path] | None = None,
    compiled: Mapping[str, CodeType] | None = None,
    cache: CodeCache | None = None,
) -> None:
    """Import each module not yet back in ``sys.modules``, in the given order.

    Args:
        names: the modules to import.
        files: module -> its source file, where known: found there directly.
        compiled: module -> code object, for modules whose source was already
            compiled; they run that code instead of reading the file.
        cache: code objects of unchanged files, reused and filled.

    Raises:
        ModuleImportError: importing one of them raised; carries its name.
    """
    finder = _KnownFilesFinder(files or {}, compiled or {}, cache or CodeCache())
    # Just before the path finder: after the import recorder and any other
    # finder that comes first on purpose.
    try:
        position = sys.meta_path.index(importlib.machinery.PathFinder)
    except ValueError:
        position = 0
    sys.meta_path.insert(position, finder)
    try:
        for name in names:
            if name in sys.modules:
                continue  # an earlier module's import brought it back
            try:
                importlib.import_module(name)
            except BaseException as error:
                raise ModuleImportError(name) from error
    finally:
        sys.meta_path.remove(finder)


class ModuleImportError(Exception):
    """Importing ``name`` raised; the original exception is the ``__cause__``."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)


def _attach_submodules(package: ModuleType) -> None:
    prefix = package.__name__ + "."
    for name, module in list(sys.modules.items()):
        if name.startswith(prefix) and "." not in name[len(prefix) :]:
            setattr(package, name[len(prefix) :], module)


def restore(snapshot: Snapshot) -> None:
    """Put ``sys.modules`` and parent attributes back exactly as in the snapshot.

    Modules imported since the snapshot are removed; the old module objects come
    back, so the program keeps running the last code that loaded.
    """
    added = {name: sys.modules.pop(name) for name in set(sys.modules) - set(snapshot.modules)}
    sys.modules.update({name: snapshot.modules[name] for name in snapshot.evicted})
    for parent_module, attribute, submodule in snapshot.detached:
        setattr(parent_module, attribute, submodule)
    # An import that ran before the failure set attributes on parents that
    # stayed loaded: point them back at the old modules, or drop the new ones.
    for name in snapshot.evicted | set(added):
        parent_name, child = _parent_and_child(name)
        parent = sys.modules.get(parent_name)
        if parent is None:
            continue
        if name in sys.modules:
            setattr(parent, child, sys.modules[name])
        elif getattr(parent, child, None) is added.get(name):
            delattr(parent, child)
