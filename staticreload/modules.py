"""Evict, re-import and roll back: the only code that changes ``sys.modules``.

The import system's rules this module follows (CPython's ``importlib._bootstrap``):

- Importing ``pkg.sub`` sets ``sub`` as an attribute of ``pkg``, but only when it
  loads ``pkg.sub``. A package imported again therefore lacks the submodules
  that stayed in ``sys.modules``: they are attached again after a reload.
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
    "Snapshot",
    "evict",
    "import_in_order",
    "loaded_from",
    "reattach_submodules",
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


def loaded_from(paths: Iterable[Path]) -> set[str]:
    """The names of loaded modules whose ``__file__`` is one of ``paths`` (resolved)."""
    wanted = {os.fspath(path) for path in paths}
    names = {os.path.basename(path) for path in wanted}
    found = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if (
            isinstance(file, str)
            and os.path.basename(file) in names
            and os.path.realpath(file) in wanted
        ):
            found.add(name)
    return found


def remove_stale_bytecode(paths: Iterable[Path]) -> None:
    """Delete the cached bytecode of changed files and clear the finders' caches.

    An edit that keeps the file size within the same second would otherwise load
    the old ``.pyc`` (its validation uses mtime and size), and a new file is
    invisible to the path finder's directory cache until it is cleared.
    """
    for path in paths:
        with contextlib.suppress(OSError, ValueError, NotImplementedError):
            os.remove(importlib.util.cache_from_source(os.fspath(path)))
    importlib.invalidate_caches()


class _CompiledLoader(importlib.machinery.SourceFileLoader):
    """A source loader that runs code compiled before the import, once."""

    def __init__(self, fullname: str, path: str, code: CodeType) -> None:
        super().__init__(fullname, path)
        self._code: CodeType | None = code

    def get_code(self, fullname: str) -> CodeType | None:
        code, self._code = self._code, None
        return code if code is not None and fullname == self.name else super().get_code(fullname)


class _CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the changed modules, with the code the reload already compiled.

    The import then runs exactly the source that was checked, even if the file
    is written again meanwhile, and nothing is compiled twice.
    """

    def __init__(self, compiled: Mapping[str, tuple[Path, CodeType]]) -> None:
        self._compiled = dict(compiled)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        found = self._compiled.pop(fullname, None)
        if found is None:
            return None
        file, code = found
        is_package = file.name == "__init__.py"
        return importlib.util.spec_from_file_location(
            fullname,
            file,
            loader=_CompiledLoader(fullname, os.fspath(file), code),
            submodule_search_locations=[os.fspath(file.parent)] if is_package else None,
        )


def import_in_order(
    names: Iterable[str], compiled: Mapping[str, tuple[Path, CodeType]] | None = None
) -> None:
    """Import each module not yet back in ``sys.modules``, in the given order.

    Args:
        names: the modules to import.
        compiled: module -> (file, code object) for modules whose source was
            already compiled; they run that code instead of reading the file.

    Raises:
        ModuleImportError: importing one of them raised; carries its name.
    """
    finder = _CompiledFinder(compiled or {})
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


def reattach_submodules(packages: Iterable[str]) -> None:
    """Give re-imported packages back their loaded submodules as attributes.

    Args:
        packages: packages that were imported again.
    """
    fresh = {name for name in packages if name in sys.modules}
    if not fresh:
        return
    for name, module in list(sys.modules.items()):
        parent_name, child = _parent_and_child(name)
        parent = sys.modules.get(parent_name) if parent_name in fresh else None
        if parent is not None:
            setattr(parent, child, module)


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
