"""``Reloader``: from changed files to re-imported modules, with rollback, hooks and a lock."""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType

from staticreload import diagnostics, loading, modules
from staticreload import graph as graphs
from staticreload.dependency_map import DependencyMap, PathOrModule
from staticreload.exceptions import ModuleImportError, ReloadError
from staticreload.locking import ReadWriteLock
from staticreload.planning import ChangePlanner, Plan
from staticreload.recording import ImportRecorder

__all__ = ["ReloadResult", "Reloader", "digest"]

logger = logging.getLogger(__name__)

PreReloadHook = Callable[[tuple[str, ...]], object]
PostReloadHook = Callable[["ReloadResult"], object]
ErrorHandler = Callable[[ReloadError], object]

# Errors compiling a file can raise: SyntaxError; ValueError (null bytes);
# RecursionError and MemoryError (nesting deeper than the compiler allows);
# OSError (unreadable).
_COMPILE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, OSError)


def digest(source: bytes) -> bytes:
    """The fingerprint of a file's content (BLAKE2b), as in :attr:`ReloadResult.digests`."""
    return hashlib.blake2b(source).digest()


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
        digests: file -> :func:`digest` of the content this reload compiled
            (a deleted file has none).
        restart: why the change must be applied by restarting the process
            instead (a module in the closure declines hot reload); None for a
            hot reload. Nothing was evicted then.
    """

    changed: tuple[str, ...]
    reloaded: tuple[str, ...]
    duration_s: float
    error: ReloadError | None = None
    rolled_back: bool = False
    digests: Mapping[Path, bytes] = field(default_factory=dict, repr=False)
    restart: str | None = None

    @property
    def ok(self) -> bool:
        """True if the reload succeeded (or, with ``restart``, was handed to a restart)."""
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
    derived from the map (dependencies first). Watching files is
    :class:`staticreload.live.LiveReload`'s job.

    Attributes:
        map: the :class:`DependencyMap` of the targets.
        lock: a readers/writer lock; the reload holds it as writer while modules
            are evicted and imported again. Code that must not run against a
            half-reloaded program holds it as reader.
        generation: the number of successful reloads so far.
    """

    def __init__(
        self,
        dependency_map: DependencyMap,
        *,
        exclude: Iterable[str] = (),
        restart_on: Iterable[str] = (),
    ) -> None:
        """Args:
        dependency_map: the map of the targets: built, loaded from a cache, or
            a fake; the reloader updates it as files change.
        exclude: module name patterns (``fnmatch``) never to reload, such as a
            module that loads a large model.
        restart_on: file patterns (``fnmatch``, against the path relative to
            the map's root and the absolute path): a change whose closure
            holds such a file is not reloaded in place; the result says
            ``restart`` instead. A module that sets
            ``__staticreload_decline__ = True`` is treated the same way.
        """
        self.map = dependency_map
        self.restart_on = tuple(restart_on)
        self.lock = ReadWriteLock()
        self.generation = 0
        self._planner = ChangePlanner(dependency_map, exclude=exclude)
        self._pre_reload_hooks: list[PreReloadHook] = []
        self._post_reload_hooks: list[PostReloadHook] = []
        self._error_handlers: list[ErrorHandler] = []
        self._recorder = ImportRecorder(is_tracked=self.map.covers)
        self._code_cache = loading.CodeCache()

    @classmethod
    def from_targets(
        cls,
        *targets: PathOrModule,
        root: PathOrModule | None = None,
        exclude: Iterable[str] = (),
        restart_on: Iterable[str] = (),
    ) -> Reloader:
        """Build the map of the targets (:meth:`DependencyMap.build`) and a reloader for it.

        Raises:
            PackageNotFoundError: a target cannot be found.
        """
        dependency_map = DependencyMap.build(*targets, root=root)
        return cls(dependency_map, exclude=exclude, restart_on=restart_on)

    @property
    def exclude(self) -> tuple[str, ...]:
        """The module name patterns never reloaded."""
        return self._planner.exclude

    @property
    def failing(self) -> bool:
        """True while the last reload failed; its files are retried with the next one."""
        return self._planner.failing

    # Set-up

    def install(self) -> None:
        """Start recording the order in which the targets' modules are imported."""
        self._recorder.install()

    def uninstall(self) -> None:
        """Stop recording imports."""
        self._recorder.uninstall()

    def watched_folders(self) -> list[Path]:
        """The folders a watcher must watch to see every file of the targets."""
        return sorted({tree.folder for tree in self.map.trees})

    def add_pre_reload_hook(self, hook: PreReloadHook) -> None:
        """Call ``hook(modules)`` before modules are evicted (the lock held as writer)."""
        self._pre_reload_hooks.append(hook)

    def add_post_reload_hook(self, hook: PostReloadHook) -> None:
        """Call ``hook(result)`` after every reload, before the writer lock is released."""
        self._post_reload_hooks.append(hook)

    def add_error_handler(self, handler: ErrorHandler) -> None:
        """Call ``handler(error)`` when a reload fails."""
        self._error_handlers.append(handler)

    # Reloading

    def changed_files(self, paths: Iterable[PathOrModule]) -> set[Path]:
        """The targets' source files that changed paths stand for (see ``reload_paths``)."""
        return self._planner.files_for(paths)

    def reload_paths(self, paths: Iterable[PathOrModule]) -> ReloadResult:
        """Apply changed, added or deleted files now, in the calling thread.

        Files outside the targets are ignored; a folder stands for the files in
        it. Never raises for a failure in the reloaded code, whatever it raised
        (``SystemExit`` and ``KeyboardInterrupt`` included): that is the
        result's ``error``.

        Args:
            paths: the changed files or folders.

        Returns:
            What the reload did.
        """
        return self._reload(self._planner.files_for(paths))

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
            files = self._planner.pending(files)
            if not files:
                return ReloadResult((), (), time.perf_counter() - started)
            try:
                compiled, digests = self._compile(files)
                new_files = {f for f in compiled if self.map.module_of(f) is None}
                plan = self._planner.plan(files, sys.modules.keys())
            except ReloadError as compile_error:
                self._planner.record(files, (), ok=False)
                names = sorted({n for n in map(self._planner.module_name, files) if n})
                duration_s = time.perf_counter() - started
                result = ReloadResult(tuple(names), (), duration_s, compile_error)
                self._report(result)
                return result
            # Every changed file, loaded or not: one imported later must not find old bytecode.
            loading.remove_stale_bytecode(compiled, invalidate_caches=bool(new_files))
            reason = self._declined(plan.affected)
            if reason is not None:
                self._planner.record(files, plan.affected, ok=True)
                duration_s = time.perf_counter() - started
                result = ReloadResult(plan.changed, (), duration_s, digests=digests, restart=reason)
                self._report(result)
                return result
            code_by_module = {
                module: code
                for path, code in compiled.items()
                if (module := self.map.module_of(path)) is not None
            }
            error, executed = self._replace(plan.affected, code_by_module, frozenset())
            if error is not None and diagnostics.is_circular_import(error):
                error, executed = self._retry_whole(plan, code_by_module, error, executed)
            self._planner.record(files, plan.affected, ok=error is None)
            if error is None:
                self.generation += 1
            result = ReloadResult(
                plan.changed,
                executed,
                time.perf_counter() - started,
                error,
                rolled_back=error is not None,
                digests=digests,
            )
            self._report(result)
        return result

    def _compile(self, files: Iterable[Path]) -> tuple[dict[Path, CodeType], dict[Path, bytes]]:
        """Compile each existing file; nothing in ``sys.modules`` is touched yet.

        Returns:
            file -> its code object, and file -> the digest of its content.

        Raises:
            ReloadError: a file of a loaded module cannot be read or compiled
                (a file nothing has loaded is only logged).
        """
        compiled, digests = {}, {}
        for path in sorted(files):
            if not path.exists():
                continue
            try:
                source = path.read_bytes()
                compiled[path] = compile(source, str(path), "exec", dont_inherit=True)
            except _COMPILE_ERRORS as error:
                module = self._planner.module_name(path)
                failure = diagnostics.compile_failure(error, path, module)
                if module in sys.modules:
                    raise failure from error
                # Not loaded: a fresh start would not run it either; if a module
                # imports it in this reload, that import fails and says so.
                logger.warning("%s (not loaded: nothing reloaded for it)", failure)
                continue
            digests[path] = digest(source)
        return compiled, digests

    def _declined(self, affected: Iterable[str]) -> str | None:
        """Why these modules must not run again in place, or None if they may."""
        for name in sorted(affected):
            namespace = getattr(sys.modules.get(name), "__dict__", None)
            if isinstance(namespace, dict) and namespace.get(modules.DECLINE_FLAG) is True:
                return f"{name} sets {modules.DECLINE_FLAG}"
            if name not in self.map or not self.restart_on:
                continue
            shown, path = self.map.display_path(name), os.fspath(self.map.path_of(name))
            for pattern in self.restart_on:
                if fnmatch.fnmatch(shown, pattern) or fnmatch.fnmatch(path, pattern):
                    return f"{shown} matches --restart-on {pattern}"
        return None

    def _retry_whole(
        self,
        plan: Plan,
        compiled: dict[str, CodeType],
        error: ReloadError,
        executed: tuple[str, ...],
    ) -> tuple[ReloadError | None, tuple[str, ...]]:
        """Import every loaded module of the project again, after a circular import.

        Reloading only the closure, while the rest stays loaded, can enter an
        import cycle from another side than a fresh start does (a module
        outside the closure no longer runs the imports it ran at start). A
        fresh start of the project's modules in their recorded order, with
        nothing of the project left in ``sys.modules``, replays the cold start;
        if that fails too, the code itself is at fault.
        """
        whole = self._planner.everything_loaded(sys.modules.keys())
        if whole <= plan.affected:
            return error, executed
        logger.info(
            "%s; importing all %d modules of the project again, in start order",
            error.reason,
            len(whole),
        )
        return self._replace(whole, compiled, disposed=plan.affected)

    def _replace(
        self, affected: frozenset[str], compiled: dict[str, CodeType], disposed: frozenset[str]
    ) -> tuple[ReloadError | None, tuple[str, ...]]:
        """Evict ``affected`` and import it again; on failure, put the old modules back.

        Hooks and dispose hooks run for the modules not in ``disposed`` (those
        a first attempt of the same reload already handled).

        Returns:
            The error (None on success), and the modules executed in order.
        """
        # A submodule left loaded by a package whose own import failed cannot
        # be imported again without that package: it stays as it is.
        affected -= modules.orphans(affected)
        _call_each(self._pre_reload_hooks, tuple(sorted(affected - disposed)))
        modules.dispose(affected - disposed)
        parked = modules.loaded_descendants(affected) - affected
        parked -= modules.orphans(parked)
        snapshot = modules.evict(affected | parked, rerun=affected)
        # A module gone from the map (its file deleted) is evicted, not imported.
        wanted = {name for name in affected if name in self.map} | self._imported_outside(
            parked, affected
        )
        order = graphs.import_order(self.map.graph, wanted, self._recorder.positions)
        with self._recorder.capture() as started:
            try:
                loading.import_in_order(
                    order,
                    self._locations(affected, snapshot.modules),
                    compiled,
                    self._code_cache,
                    parked={name: snapshot.modules[name] for name in parked},
                    replay=self._import_time_imports(parked, affected | parked),
                )
            except ModuleImportError as failure:
                modules.restore(snapshot, is_project=self.map.__contains__)
                return diagnostics.import_failure(failure, self.map.module_of), ()
        modules.rebind(snapshot)
        return None, tuple(name for name in started if name not in parked and name in sys.modules)

    def _import_time_imports(
        self, names: Iterable[str], among: Collection[str]
    ) -> dict[str, list[str]]:
        """Module -> what its body imports at import time, among ``among``, in line order."""
        replay = {}
        for name in names:
            if name not in self.map:
                continue
            edges = self.map.graph.out_edges(name, data=True)
            found = [
                (min((number for number, _ in data["lines"]), default=math.inf), imported)
                for _, imported, data in edges
                if imported in among and data["scope"] == graphs.MODULE_SCOPE
            ]
            if found:
                replay[name] = [imported for _, imported in sorted(found)]
        return replay

    def _imported_outside(self, parked: set[str], affected: frozenset[str]) -> set[str]:
        """The parked modules that a loaded module outside ``affected`` imports.

        In a fresh start that importer would import them at their place in
        the start order, so they are handed back there. Any other parked
        module is handed back when a reloaded module imports it, or at the
        end: a fresh start would not have set it on its package earlier.
        """
        return {
            name
            for name in parked
            if name in self.map
            and any(
                importer not in affected and importer in sys.modules
                for importer in self.map.graph.predecessors(name)
            )
        }

    def _locations(
        self, names: Iterable[str], loaded: Mapping[str, object]
    ) -> dict[str, str | os.PathLike[str]]:
        """Where to import each module again: the file it was loaded from.

        The file as the module named it (a project reached through a symlink
        keeps its ``__file__``), when it is the map's file; a module loaded
        from another file (a compiled extension beside its ``.py``) is left to
        the import system's own search, as a fresh start would.
        """
        locations: dict[str, str | os.PathLike[str]] = {}
        for name in names:
            if name not in self.map:
                continue
            path = self.map.path_of(name)
            spec = getattr(loaded.get(name), "__spec__", None)
            origin = getattr(spec, "origin", None)
            if not isinstance(origin, str) or not os.path.isabs(origin):
                locations[name] = path
            elif os.path.realpath(origin) == os.fspath(path):
                locations[name] = origin
        return locations

    def _report(self, result: ReloadResult) -> None:
        if result.restart is not None:
            logger.info("restart needed for %s: %s", ", ".join(result.changed), result.restart)
        elif result.ok:
            logger.info(
                "reloaded %d modules for %s in %.1f ms",
                len(result.reloaded),
                ", ".join(result.changed) or "no module",
                result.duration_s * 1000,
            )
        else:
            logger.error("%s%s", result.error, " (rolled back)" if result.rolled_back else "")
        _call_each(self._post_reload_hooks, result)
        if result.error is not None:
            _call_each(self._error_handlers, result.error)


def _call_each(hooks: Iterable[Callable[..., object]], argument: object) -> None:
    for hook in list(hooks):
        try:
            hook(argument)
        except BaseException:  # a hook is user code: it must not stop the reload
            logger.exception("reload hook %r raised", hook)
