"""Watching source files with watchdog: the only module that imports watchdog.

Batching: the first event after a quiet spell is delivered at once (leading
edge), so a single save pays no debounce delay. Events that arrive while that
batch is being handled, or within ``debounce_s`` after it, are coalesced and
delivered together once no new event came for ``debounce_s`` (trailing edge).
An editor's burst of writes thus costs one reload, or two at most.

Which events count: on Linux (inotify) a file counts when it is closed after
writing, created, deleted or moved, never on each ``modified`` write, so a
reload never reads a half-written file. Elsewhere ``modified`` counts too.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

__all__ = ["IGNORED_DIRS", "Watcher", "is_ignored"]

logger = logging.getLogger(__name__)

# Folder names whose files are never the project's own source.
IGNORED_DIRS = frozenset({"__pycache__", "site-packages", "node_modules", "venv", "env"})

_STOP = object()


def is_ignored(path: str, folder: Path) -> bool:
    """Whether a path under a watched folder is not the project's Python source.

    Ignored: anything below a hidden folder, ``__pycache__``, a virtual
    environment or ``site-packages`` (counted from ``folder`` down), and files
    with a suffix other than ``.py``. Folders pass, because deleting or moving
    one changes the modules inside it.
    """
    try:
        parts = Path(path).relative_to(folder).parts
    except ValueError:
        return True
    if any(part.startswith(".") or part in IGNORED_DIRS for part in parts):
        return True
    name = parts[-1] if parts else ""
    return "." in name and not name.endswith(".py")


class _Handler(FileSystemEventHandler):
    def __init__(
        self, events: queue.Queue[object], folders: list[Path], *, close_events: bool
    ) -> None:
        self._events = events
        self._folders = folders
        kinds = {EVENT_TYPE_CREATED, EVENT_TYPE_DELETED, EVENT_TYPE_MOVED}
        kinds.add(EVENT_TYPE_CLOSED if close_events else EVENT_TYPE_MODIFIED)
        self._kinds = frozenset(kinds)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in self._kinds:
            return
        if event.is_directory and event.event_type in (EVENT_TYPE_CREATED, EVENT_TYPE_CLOSED):
            return  # the files inside report themselves
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw)
            folder = next((f for f in self._folders if path.startswith(str(f))), None)
            if path and folder is not None and not is_ignored(path, folder):
                self._events.put(path)


class Watcher:
    """Calls ``on_change`` with batches of changed paths under some folders.

    ``on_change`` runs in the watcher's own thread; an exception from it is
    logged and the watcher goes on.
    """

    def __init__(
        self,
        folders: Iterable[Path],
        on_change: Callable[[set[str]], object],
        *,
        debounce_s: float,
    ) -> None:
        """Args:
        folders: watched recursively.
        on_change: receives each batch of paths (files or folders).
        debounce_s: the quiet time, in seconds, that ends a burst of events
            following a delivered batch.
        """
        # Deepest first, so that a path is judged against its nearest folder.
        self.folders = sorted(set(folders), key=lambda f: len(f.parts), reverse=True)
        self.on_change = on_change
        self.debounce_s = debounce_s
        self._events: queue.Queue[object] = queue.Queue()
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None
        self._last_delivery = -float("inf")

    def start(self) -> None:
        """Start watching: watchdog's observer thread and the batching thread."""
        if self._thread is not None:
            return
        observer = Observer()
        close_events = type(observer).__name__ == "InotifyObserver"
        handler = _Handler(self._events, self.folders, close_events=close_events)
        # Only the kinds the handler uses: on inotify this is the kernel's event
        # mask, so the reload's own reads of the files (open, close without
        # writing) and every single write wake no watcher thread.
        kinds: list[type[FileSystemEvent]] = [
            FileCreatedEvent, FileDeletedEvent, FileMovedEvent, DirDeletedEvent, DirMovedEvent,
            FileClosedEvent if close_events else FileModifiedEvent,
        ]  # fmt: skip
        for folder in self.folders:
            observer.schedule(handler, str(folder), recursive=True, event_filter=kinds)
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._run, name="staticreload-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop both threads and wait for them, at most ``timeout_s`` seconds each."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout_s)
            self._observer = None
        if self._thread is not None:
            self._events.put(_STOP)
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._events.get()
            if first is _STOP:
                return
            batch = {str(first)}
            in_burst = time.monotonic() - self._last_delivery < self.debounce_s
            stop = self._collect(batch, self.debounce_s if in_burst else None)
            self._deliver(batch)
            if stop:
                return

    def _collect(self, batch: set[str], quiet_s: float | None) -> bool:
        """Add queued events to ``batch``: those already there (``quiet_s`` None), or
        until none came for ``quiet_s`` seconds. True if told to stop."""
        while True:
            try:
                item = (
                    self._events.get_nowait()
                    if quiet_s is None
                    else self._events.get(timeout=quiet_s)
                )
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            batch.add(str(item))

    def _deliver(self, batch: set[str]) -> None:
        try:
            self.on_change(batch)
        except Exception:
            logger.exception("handling changes to %s failed", sorted(batch))
        finally:
            self._last_delivery = time.monotonic()
