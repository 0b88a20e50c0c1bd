"""Importing the closure again: a finder for the files the map knows, a loader with a code cache.

How a package's submodules get back onto it: in a fresh process, importing
``pkg.sub`` sets ``sub`` on ``pkg`` at the moment ``pkg.sub`` finishes loading,
which may be in the middle of ``pkg/__init__.py`` (``from .sub import sub``
then rebinds the name to a function) or much later. When ``pkg`` runs again
while ``pkg.sub`` stays loaded, the loaded submodule is *parked*: taken out of
``sys.modules`` and handed back, unchanged and without running, by a finder
the moment something imports it, so the import system sets the attribute
exactly when a fresh import would. Deeper submodules are parked too: ``import
pkg.sub.mod`` finds ``pkg.sub.mod`` in ``sys.modules`` and would never run
``pkg.sub`` again, so its attribute chain ``pkg.sub`` would break. Parked
modules nobody asks for are handed back at the end.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import CodeType, ModuleType

from staticreload.exceptions import ModuleImportError

__all__ = ["CodeCache", "import_in_order", "remove_stale_bytecode"]


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


class _ParkedLoader(importlib.abc.Loader):
    """Hands back a module that is already loaded, without running it again.

    The import system then puts it in ``sys.modules`` and sets it on its
    parent package, as it does when a module finishes loading.
    """

    def __init__(self, module: ModuleType, imports: Sequence[str]) -> None:
        self._module = module
        self._spec = getattr(module, "__spec__", None)
        self._imports = imports

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self._module

    def exec_module(self, module: ModuleType) -> None:
        # module_from_spec replaced __spec__ with the parked one: put the real one back.
        if self._spec is not None:
            module.__spec__ = self._spec
        # Its body, in a fresh start, would import these now (a module being
        # reloaded runs here, and a parked one is handed back and sets its
        # attribute), as it would at this point of a cold start.
        for name in self._imports:
            if name not in sys.modules:
                # A failure here is the import loop's to report, when it gets there.
                with contextlib.suppress(Exception):
                    importlib.import_module(name)


class _ReloadFinder(importlib.abc.MetaPathFinder):
    """Finds the modules being reloaded at the files the map knows, once each.

    That skips the path finder's search of ``sys.path`` for every module of the
    closure; the spec is the one the path finder would build (a source file
    loader at that file). Changed modules run the code the reload compiled, so
    the import runs exactly the source that was checked, even if the file is
    written again meanwhile, and nothing is compiled twice. Parked modules
    are handed back unchanged.
    """

    def __init__(
        self,
        files: Mapping[str, str],
        compiled: Mapping[str, CodeType],
        cache: CodeCache,
        parked: Mapping[str, ModuleType],
        replay: Mapping[str, Sequence[str]],
    ) -> None:
        self._files = dict(files)
        self._compiled = compiled
        self._cache = cache
        self._parked = dict(parked)
        self._replay = replay

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        parked = self._parked.pop(fullname, None)
        if parked is not None:
            parked_loader = _ParkedLoader(parked, self._replay.get(fullname, ()))
            return importlib.machinery.ModuleSpec(fullname, parked_loader)
        location = self._files.pop(fullname, None)
        if location is None:
            return None
        loader = _ReloadLoader(fullname, location, self._cache, self._compiled.get(fullname))
        is_package = os.path.basename(location) == "__init__.py"
        return importlib.util.spec_from_file_location(
            fullname,
            location,
            loader=loader,
            submodule_search_locations=[os.path.dirname(location)] if is_package else None,
        )

    def unpark_all(self) -> None:
        """Put back every parked module nobody imported, on its parent too."""
        for name, module in sorted(self._parked.items()):  # parents first
            sys.modules[name] = module
            parent_name, _, child = name.rpartition(".")
            parent = sys.modules.get(parent_name)
            if parent is not None:
                setattr(parent, child, module)
        self._parked.clear()


def import_in_order(
    names: Iterable[str],
    files: Mapping[str, str | os.PathLike[str]] | None = None,
    compiled: Mapping[str, CodeType] | None = None,
    cache: CodeCache | None = None,
    parked: Mapping[str, ModuleType] | None = None,
    replay: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Import each module not yet back in ``sys.modules``, in the given order.

    Args:
        names: the modules to import, parked ones included (importing a parked
            module hands it back).
        files: module -> its source file, where known: found there directly.
        compiled: module -> code object, for modules whose source was already
            compiled; they run that code instead of reading the file.
        cache: code objects of unchanged files, reused and filled.
        parked: loaded modules taken out of ``sys.modules`` to be handed back
            when imported (see the module docstring); all are back afterwards.
        replay: parked module -> the modules its body imports at import time,
            in order: imported when it is handed back, as its body would.

    Raises:
        ModuleImportError: importing one of them raised (any exception,
            ``KeyboardInterrupt`` and ``SystemExit`` included); carries its name.
    """
    finder = _ReloadFinder(
        {name: os.fspath(path) for name, path in (files or {}).items()},
        compiled or {},
        cache or CodeCache(),
        parked or {},
        replay or {},
    )
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
        finder.unpark_all()
    finally:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)
