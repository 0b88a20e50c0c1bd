"""Live reloading: a watcher, content fingerprints and the debounce, wired to a ``Reloader``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from staticreload.config import resolve_debounce_s
from staticreload.reloader import Reloader, ReloadResult, digest
from staticreload.watcher import DEFAULT_OBSERVER, ObserverFactory, Watcher

__all__ = ["LiveReload"]

logger = logging.getLogger(__name__)


class LiveReload:
    """Watches a reloader's targets and reloads them on every change of content.

    A save that leaves a file as it was when last applied reloads nothing; a
    file's fingerprint moves only when a reload that applied it succeeds, and
    while a reload is failing every save is tried (undoing a broken edit
    recovers). Fingerprints are taken at :meth:`start`: start before the
    application is imported, so that a save during a slow start-up is not
    lost (the reload waits for the import if the importer holds the
    reloader's lock as writer).
    """

    def __init__(
        self,
        reloader: Reloader,
        *,
        debounce_s: float | None = None,
        observer_factory: ObserverFactory | None = DEFAULT_OBSERVER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Args:
        reloader: what to reload.
        debounce_s: the quiet time in seconds that ends a burst of file events
            following a reload; default from ``STATICRELOAD_DEBOUNCE_S``, else
            0.05.
        observer_factory: see :class:`staticreload.watcher.Watcher` (tests).
        clock: see :class:`staticreload.watcher.Watcher` (tests).

        Raises:
            ConfigError: ``debounce_s`` or ``STATICRELOAD_DEBOUNCE_S`` is not a
                non-negative number.
        """
        self.reloader = reloader
        self.debounce_s = resolve_debounce_s(debounce_s)
        self.watcher = Watcher(
            reloader.watched_folders(),
            self._on_batch,
            debounce_s=self.debounce_s,
            clock=clock,
            observer_factory=observer_factory,
        )
        self._fingerprints: dict[Path, bytes] = {}
        self._started = False
        reloader.add_post_reload_hook(self._remember)

    def start(self) -> None:
        """Take the fingerprints of the targets' files and start watching."""
        if self._started:
            return
        for module in self.reloader.map.modules:
            path = self.reloader.map.path_of(module)
            try:
                self._fingerprints[path] = digest(path.read_bytes())
            except OSError:
                continue
        self.watcher.start()
        self._started = True

    def stop(self) -> None:
        """Stop watching and wait for the watcher's threads to end."""
        self.watcher.stop()
        self._started = False

    def __enter__(self) -> LiveReload:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _on_batch(self, paths: set[str]) -> None:
        files = {path for path in self.reloader.changed_files(paths) if self._content_changed(path)}
        if files:
            self.reloader.reload_paths(files)

    def _content_changed(self, path: Path) -> bool:
        if self.reloader.failing or self.reloader.map.module_of(path) is None:
            return True  # a failure to retry, or a file new to the map
        try:
            current = digest(path.read_bytes())
        except OSError:
            return True  # deleted or unreadable: the reloader decides
        if current == self._fingerprints.get(path):
            logger.debug("%s saved without changes", path)
            return False
        return True

    def _remember(self, result: ReloadResult) -> None:
        if result.ok:
            self._fingerprints.update(result.digests)
