"""``Reloader``: from changed files to re-imported modules, with rollback, hooks and a lock."""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, TracebackType

from staticreload import graph as graphs
from staticreload import modules
from staticreload.dependency_map import DependencyMap, PathOrModule
from staticreload.exceptions import NotInMapError, ReloadError, SourceSyntaxError, describe
from staticreload.locking import ReadWriteLock
from staticreload.recording import ImportRecorder
from staticreload.scanning import module_for_path
from staticreload.watcher import Watcher, is_ignored

__all__ = ["DEBOUNCE_ENV", "DEFAULT_DEBOUNCE_S", "ReloadResult", "Reloader"]

logger = logging.getLogger(__name__)

# Only bursts that follow a reload wait this long; the first event of a quiet
# spell reloads at once (see staticreload.watcher). 50 ms covers editors that
# write a file twice or save several files in one go.
DEFAULT_DEBOUNCE_S = 0.05
DEBOUNCE_ENV = "STATICRELOAD_DEBOUNCE_S"

PreReloadHook = Callable[[tuple[str, ...]], object]
PostReloadHook = Callable[["ReloadResult"], object]
ErrorHandler = Callable[[ReloadError], object]


def resolve_seconds(value: float | None, env_name: str, default: float) -> float:
    """An option in seconds: the value given, else the environment variable, else the default.

    Raises:
        ValueError: the environment variable is not a non-negative number.
    """
    if value is None:
        raw = os.environ.get(env_name)
        value = default if raw is None or raw == "" else float(raw)
    if value < 0:
        raise ValueError(f"{env_name} must not be negative, got {value}")
    return float(value)


@dataclass(frozen=True)
class ReloadResult:
    """What one reload did.

    Attributes:
        changed: the changed modules (a deleted module included), sorted.
        reloaded: the modules imported again, in the order their execution
            started; empty when the reload was rolled back.
        duration_s: how long the reload took, in seconds.
        error: why it failed, or None.
        rolled_back: True if modules had been evicted and were put back.
    """

    changed: tuple[str, ...]
    reloaded: tuple[str, ...]
    duration_s: float
    error: ReloadError | None = None
    rolled_back: bool = False

    @property
    def ok(self) -> bool:
        """True if the reload succeeded."""
        return self.error is None


class Reloader:
    """Reloads the modules a file change affects, in place, in a running process.

    Each reload: compile the changed files (a syntax error stops there), update
    the dependency map, take the closure (changed modules plus every loaded
    module that imports one of them), evict it from ``sys.modules`` and import it
    again in the order the program first started importing those modules. On
    any exception the previous modules are put back. Modules outside the
    closure, and everything outside the targets (the standard library,
    installed packages), are never touched.

    Call :meth:`install` before the application is imported, so the import
    order is recorded; modules loaded earlier are re-imported in an order
    derived from the map (dependencies first).

    Attributes:
        map: the :class:`DependencyMap` of the targets.
        lock: a readers/writer lock; the reload holds it as writer while modules
            are evicted and imported again. Code that must not run against a
            half-reloaded program holds it as reader.
        generation: the number of successful reloads so far.
        pre_reload_hooks: called with the modules about to be reloaded.
        post_reload_hooks: called with the :class:`ReloadResult` of every reload.
        error_handlers: called with the :class:`ReloadError` of a failed reload.
    """

    def __init__(
        self,
        *targets: PathOrModule,
        root: PathOrModule | None = None,
        debounce_s: float | None = None,
        exclude: Iterable[str] = (),
    ) -> None:
        """Build the map of the targets.

        Args:
            targets: package names or directories, as for
                :meth:`DependencyMap.build`.
            root: as for :meth:`DependencyMap.build`.
            debounce_s: the quiet time in seconds that ends a burst of file events
                following a reload; default from ``STATICRELOAD_DEBOUNCE_S``, else
                0.05.
            exclude: module name patterns (``fnmatch``) never to reload, such as a
                module that loads a large model.

        Raises:
            PackageNotFoundError: a target cannot be found.
            SourceSyntaxError: a file of the targets cannot be parsed.
            ValueError: ``debounce_s`` is negative.
        """
        self.map = DependencyMap.build(*targets, root=root)
        self.debounce_s = resolve_seconds(debounce_s, DEBOUNCE_ENV, DEFAULT_DEBOUNCE_S)
        self.exclude = tuple(exclude)
        self.lock = ReadWriteLock()
        self.generation = 0
        self.pre_reload_hooks: list[PreReloadHook] = []
        self.post_reload_hooks: list[PostReloadHook] = []
        self.error_handlers: list[ErrorHandler] = []
        self._recorder = ImportRecorder(is_tracked=self.map.__contains__)
        # What a failed reload tried to apply: retried with every later reload.
        self._failed_paths: set[Path] = set()
        self._failed_modules: set[str] = set()
        self._fingerprints: dict[Path, bytes] = {}
        self._code_cache = modules.CodeCache()
        self._watcher: Watcher | None = None

    # Set-up

    def install(self) -> None:
        """Start recording the order in which the targets' modules are imported."""
        self._recorder.install()

    def uninstall(self) -> None:
        """Stop recording imports."""
        self._recorder.uninstall()

    def start(self) -> None:
        """Install, then watch the targets' folders and reload on every change.

        Saves that leave a file's content as it was reload nothing.
        """
        self.install()
        if self._watcher is not None:
            return
        for module in self.map.modules:
            path = self.map.path_of(module)
            digest = _fingerprint(path)
            if digest is not None:
                self._fingerprints[path] = digest
        self._watcher = Watcher(self.watched_folders(), self._on_batch, debounce_s=self.debounce_s)
        self._watcher.start()

    def stop(self) -> None:
        """Stop watching and wait for the watcher's threads to end."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    def __enter__(self) -> Reloader:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self.uninstall()

    def watched_folders(self) -> list[Path]:
        """The folders a watcher must watch to see every file of the targets."""
        folders = set()
        for tree in self.map.trees:
            package = tree.root / tree.top if tree.top is not None else None
            folders.add(package if package is not None and package.is_dir() else tree.root)
        return sorted(folders)

    def add_pre_reload_hook(self, hook: PreReloadHook) -> None:
        """Call ``hook(modules)`` before modules are evicted (the lock held as writer)."""
        self.pre_reload_hooks.append(hook)

    def add_post_reload_hook(self, hook: PostReloadHook) -> None:
        """Call ``hook(result)`` after every reload, before the writer lock is released."""
        self.post_reload_hooks.append(hook)

    def add_error_handler(self, handler: ErrorHandler) -> None:
        """Call ``handler(error)`` when a reload fails."""
        self.error_handlers.append(handler)

    # Reloading

    def reload_paths(self, paths: Iterable[PathOrModule]) -> ReloadResult:
        """Apply changed, added or deleted files now, in the calling thread.

        Files outside the targets are ignored; a folder stands for the files in
        it. Never raises for a failure in the reloaded code: that is the result's
        ``error``.

        Args:
            paths: the changed files or folders.

        Returns:
            What the reload did.
        """
        return self._reload(self._changed_files(paths))

    def _on_batch(self, paths: set[str]) -> None:
        files = {path for path in self._changed_files(paths) if self._content_changed(path)}
        if files:
            self._reload(files)

    def _content_changed(self, path: Path) -> bool:
        digest = _fingerprint(path)
        if digest is not None and digest == self._fingerprints.get(path):
            logger.debug("%s saved without changes", path)
            return False
        return True

    def _changed_files(self, paths: Iterable[PathOrModule]) -> set[Path]:
        """Resolve paths to the targets' source files they stand for."""
        files: set[Path] = set()
        for raw in paths:
            path = Path(os.path.abspath(raw)).resolve()
            tree = next((t for t in self.map.trees if t.contains(path)), None)
            if tree is None or is_ignored(str(path), tree.root):
                continue  # outside the targets, also through a symlink or ".."
            if self.map.module_of(path) is not None or module_for_path(path, self.map.trees):
                files.add(path)
            if not path.is_file():  # a folder, or a deleted one
                files |= self._files_under(path, tree.root)
        return files

    def _files_under(self, folder: Path, tree_root: Path) -> set[Path]:
        known = {self.map.path_of(m) for m in self.map.modules}
        files = {path for path in known if folder in path.parents}
        if folder.is_dir():
            files |= {
                path.resolve()
                for path in folder.rglob("*.py")
                if not is_ignored(str(path), tree_root)
            }
        return files

    def _is_excluded(self, module: str) -> bool:
        return any(fnmatch.fnmatchcase(module, pattern) for pattern in self.exclude)

    def _reload(self, files: set[Path]) -> ReloadResult:
        """One reload, under the writer lock from the first step to the last.

        Requests that arrive meanwhile wait on the lock (off the GIL) and then
        run the new code, instead of competing with the reload for the
        interpreter and getting the old code.
        """
        started = time.perf_counter()
        with self.lock.write():
            for importer, imported in self._recorder.take_runtime_imports():
                self.map.add_runtime_import(importer, imported)
            files = {f for f in files | self._failed_paths if not self._excluded_file(f)}
            if not files:
                return ReloadResult((), (), time.perf_counter() - started)
            try:
                compiled = self._compile(files)
                new_files = {f for f in compiled if self.map.module_of(f) is None}
                changed, affected = self._update_map(files)
            except ReloadError as error:
                self._failed_paths = files
                names = sorted({name for name in map(self._module_name, files) if name})
                result = ReloadResult(tuple(names), (), time.perf_counter() - started, error)
                self._report(result)
                return result
            # Every changed file, loaded or not: one imported later must not find old bytecode.
            modules.remove_stale_bytecode(compiled, invalidate_caches=bool(new_files))
            code_by_module = {
                module: code
                for path, code in compiled.items()
                if (module := self.map.module_of(path)) is not None
            }
            result = self._replace_modules(changed, affected, code_by_module, started)
            self._failed_paths = set() if result.ok else files
            self._failed_modules = set() if result.ok else affected
        if result.error is not None and isinstance(result.error.__cause__, KeyboardInterrupt):
            raise result.error.__cause__
        return result

    def _excluded_file(self, path: Path) -> bool:
        module = self._module_name(path)
        return module is not None and self._is_excluded(module)

    def _module_name(self, path: Path) -> str | None:
        module = self.map.module_of(path)
        if module is None:
            found = module_for_path(path, self.map.trees)
            module = found[0] if found else None
        return module

    def _compile(self, files: Iterable[Path]) -> dict[Path, CodeType]:
        """Compile each existing file; nothing in ``sys.modules`` is touched yet.

        Returns:
            file -> its code object.

        Raises:
            ReloadError: a file cannot be read or compiled.
        """
        compiled = {}
        for path in sorted(files):
            if not path.exists():
                continue
            try:
                source = path.read_bytes()
                compiled[path] = compile(source, str(path), "exec", dont_inherit=True)
            except (SyntaxError, ValueError, OSError) as error:
                lineno = error.lineno if isinstance(error, SyntaxError) else None
                reason = describe(error)
                failure = ReloadError(
                    reason, module=self._module_name(path), path=str(path), lineno=lineno
                )
                raise failure from error
            self._fingerprints[path] = hashlib.blake2b(source).digest()
        return compiled

    def _update_map(self, files: set[Path]) -> tuple[list[str], set[str]]:
        """Update the map; return the changed modules and the loaded modules to reload.

        The closure is taken both before the update (the importers of a deleted
        module, of an import just removed) and after it (importers of a new
        module).
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
                raise ReloadError(
                    error.reason,
                    module=self._module_name(path),
                    path=error.path,
                    lineno=error.lineno,
                ) from error
        affected |= self.map.closure(m for m in changed if m in self.map)
        affected |= set(changed)
        # Whatever a failed reload tried to reload: the map may have forgotten why
        # (a deleted module and its importers' edges to it are gone from it).
        affected |= self._failed_modules
        loaded = {m for m in affected if m in sys.modules and not self._is_excluded(m)}
        return sorted(set(changed)), loaded

    def _replace_modules(
        self,
        changed: list[str],
        affected: set[str],
        compiled: dict[str, CodeType],
        started: float,
    ) -> ReloadResult:
        _call_each(self.pre_reload_hooks, tuple(sorted(affected)))
        modules.dispose(affected)
        snapshot = modules.evict(affected)
        files = {module: self.map.path_of(module) for module in affected if module in self.map}
        order = graphs.import_order(self.map.graph, files, self._recorder.positions)
        error = None
        with self._recorder.capture() as executed:
            try:
                modules.import_in_order(order, files, compiled, self._code_cache)
            except modules.ModuleImportError as failure:
                modules.restore(snapshot)
                error = self._failure_report(failure)
        if error is None:
            self.generation += 1
        result = ReloadResult(
            tuple(changed),
            () if error else tuple(executed),
            time.perf_counter() - started,
            error,
            rolled_back=error is not None,
        )
        self._report(result)
        return result

    def _failure_report(self, failure: modules.ModuleImportError) -> ReloadError:
        """A ``ReloadError`` pointing at the deepest line of the targets' code that failed."""
        cause = failure.__cause__ or failure
        module, path, lineno = failure.name, None, None
        if isinstance(cause, SyntaxError) and cause.filename:
            path, lineno = cause.filename, cause.lineno
        for frame, frame_lineno in traceback.walk_tb(cause.__traceback__):
            frame_module = self.map.module_of(frame.f_code.co_filename)
            if frame_module is not None:
                module, path, lineno = frame_module, frame.f_code.co_filename, frame_lineno
        if path is not None:
            module = self.map.module_of(path) or module
        error = ReloadError(describe(cause), module=module, path=path, lineno=lineno)
        error.__cause__ = cause
        return error

    def _report(self, result: ReloadResult) -> None:
        if result.ok:
            logger.info(
                "reloaded %d modules for %s in %.1f ms",
                len(result.reloaded),
                ", ".join(result.changed) or "no module",
                result.duration_s * 1000,
            )
        else:
            logger.error("%s%s", result.error, " (rolled back)" if result.rolled_back else "")
        _call_each(self.post_reload_hooks, result)
        if result.error is not None:
            _call_each(self.error_handlers, result.error)


def _call_each(hooks: Iterable[Callable[..., object]], argument: object) -> None:
    for hook in list(hooks):
        try:
            hook(argument)
        except Exception:
            logger.exception("reload hook %r raised", hook)


def _fingerprint(path: Path) -> bytes | None:
    try:
        return hashlib.blake2b(path.read_bytes()).digest()
    except OSError:
        return None
