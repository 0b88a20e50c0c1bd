"""Watching source files with watchdog: the only module that imports watchdog.

Batching: the first event after a quiet spell is delivered at once (leading
edge), so a single save pays no debounce delay. Events that arrive while that
batch is being handled, or within ``debounce_s`` after it, are coalesced and
delivered together once no new event came for ``debounce_s`` (trailing edge).
An editor's burst of writes thus costs one reload, or two at most. A batch
naming a path that no longer exists waits ``debounce_s`` first: ``git
checkout`` and "safe write" editors delete a file and create it again, which
is one modification, not a deletion followed by a creation.

Which events count: on Linux (inotify) a file counts when it is closed after
writing, created, deleted or moved, never on each ``modified`` write, so a
reload never reads a half-written file. Elsewhere ``modified`` counts too.

Seams for tests: the clock, the event queue and the observer are parameters;
without an observer, events come only from :meth:`Watcher.dispatch` (a
watchdog event, as Werkzeug's tests do) or the queue itself.
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

from staticreload.sources import is_ignored

__all__ = ["DEFAULT_OBSERVER", "ObserverFactory", "Watcher"]

logger = logging.getLogger(__name__)

_STOP = object()

ObserverFactory = Callable[[], BaseObserver]
DEFAULT_OBSERVER: ObserverFactory = Observer  # inotify on Linux, else the platform's


class _Handler(FileSystemEventHandler):
    """Turns watchdog events of the kinds that count into paths on a queue."""

    def __init__(
        self, events: queue.Queue[object], folders: list[Path], *, close_events: bool
    ) -> None:
        self._events = events
        self._folders = folders
        kinds = {EVENT_TYPE_CREATED, EVENT_TYPE_DELETED, EVENT_TYPE_MOVED}
        kinds.add(EVENT_TYPE_CLOSED if close_events else EVENT_TYPE_MODIFIED)
        self.kinds = frozenset(kinds)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in self.kinds:
            return
        if event.is_directory and event.event_type in (EVENT_TYPE_CREATED, EVENT_TYPE_CLOSED):
            return  # the files inside report themselves
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            path = Path(os.fsdecode(raw))
            # Compared by path parts: "website/views.py" is not under "web".
            folder = next((f for f in self._folders if path.is_relative_to(f)), None)
            if folder is not None and not is_ignored(path, folder):
                self._events.put(str(path))


class Watcher:
    """Calls ``on_change`` with batches of changed paths under some folders.

    ``on_change`` runs in the watcher's own thread; whatever it raises is
    logged and the watcher goes on.
    """

    def __init__(
        self,
        folders: Iterable[Path],
        on_change: Callable[[set[str]], object],
        *,
        debounce_s: float,
        clock: Callable[[], float] = time.monotonic,
        events: queue.Queue[object] | None = None,
        observer_factory: ObserverFactory | None = DEFAULT_OBSERVER,
    ) -> None:
        """Args:
        folders: watched recursively.
        on_change: receives each batch of paths (files or folders).
        debounce_s: the quiet time, in seconds, that ends a burst of events
            following a delivered batch.
        clock: seconds, monotonic; decides whether an event follows a batch.
        events: the queue of changed paths (a test may feed it directly).
        observer_factory: makes watchdog's observer; None watches nothing (for
            tests that dispatch synthetic events).
        """
        # Deepest first, so that a path is judged against its nearest folder.
        self.folders = sorted(set(folders), key=lambda f: len(f.parts), reverse=True)
        self.on_change = on_change
        self.debounce_s = debounce_s
        self.events: queue.Queue[object] = events if events is not None else queue.Queue()
        self._clock = clock
        self._observer_factory = observer_factory
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None
        self._last_delivery = -float("inf")
        close_events = observer_factory is not None and _reports_close(observer_factory)
        self._handler = _Handler(self.events, self.folders, close_events=close_events)

    def dispatch(self, event: FileSystemEvent) -> None:
        """Handle a watchdog event as if the observer had seen it."""
        self._handler.dispatch(event)

    def start(self) -> None:
        """Start watching: watchdog's observer thread and the batching thread."""
        if self._thread is not None:
            return
        if self._observer_factory is not None:
            observer = self._observer_factory()
            # Only the kinds the handler uses: on inotify this is the kernel's event
            # mask, so the reload's own reads of the files (open, close without
            # writing) and every single write wake no watcher thread.
            kinds: list[type[FileSystemEvent]] = [
                FileCreatedEvent, FileDeletedEvent, FileMovedEvent, DirDeletedEvent, DirMovedEvent,
                FileClosedEvent if EVENT_TYPE_CLOSED in self._handler.kinds else FileModifiedEvent,
            ]  # fmt: skip
            for folder in self.folders:
                observer.schedule(self._handler, str(folder), recursive=True, event_filter=kinds)
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
            self.events.put(_STOP)
            self._thread.join(timeout_s)
            if self._thread.is_alive():  # still in on_change: it stops after it
                logger.warning("the watcher thread is still handling a change; not waiting")
                return  # a later start() must not add a second reader of the queue
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self.events.get()
            if first is _STOP:
                return
            batch = {str(first)}
            in_burst = self._clock() - self._last_delivery < self.debounce_s
            stop = self._collect(batch, self.debounce_s if in_burst else None)
            if not stop and not in_burst and any(not os.path.exists(p) for p in batch):
                stop = self._collect(batch, self.debounce_s)  # deleted: created again soon?
            self._deliver(batch)
            if stop:
                return

    def _collect(self, batch: set[str], quiet_s: float | None) -> bool:
        """Add queued events to ``batch``: those already there (``quiet_s`` None), or
        until none came for ``quiet_s`` seconds. True if told to stop."""
        while True:
            try:
                item = (
                    self.events.get_nowait()
                    if quiet_s is None
                    else self.events.get(timeout=quiet_s)
                )
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            batch.add(str(item))

    def _deliver(self, batch: set[str]) -> None:
        try:
            self.on_change(batch)
        except BaseException:  # this thread must outlive anything the user's code raises
            logger.exception("handling changes to %s failed", sorted(batch))
        finally:
            self._last_delivery = self._clock()


def _reports_close(observer_factory: ObserverFactory) -> bool:
    """Whether the observer reports files closed after writing (inotify does)."""
    name = getattr(observer_factory, "__name__", type(observer_factory).__name__)
    return name == "InotifyObserver"
