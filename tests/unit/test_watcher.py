"""The watcher without inotify: synthetic watchdog events, a fake clock, a hand-driven queue.

Which events count is checked by :meth:`Watcher.dispatch` alone (the paths land
on the watcher's queue; no thread runs). Batching is checked with the
watcher's thread reading a :class:`HandQueue`, whose debounce waits end only
when the test says the quiet time is over: no test depends on how long
anything takes, and every wait is bounded.
"""

from __future__ import annotations

import collections
import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
)

from staticreload.watcher import Watcher

TIMEOUT_S = 10.0

# --- Which events count: dispatch only, no thread ---------------------------------------


def drain(watcher: Watcher) -> list[str]:
    """The paths the handler put on the watcher's queue, in order."""
    paths = []
    while True:
        try:
            paths.append(str(watcher.events.get_nowait()))
        except queue.Empty:
            return paths


def make_watcher(*folders: Path, close_events: bool = False) -> Watcher:
    """A watcher that watches nothing by itself: events come from ``dispatch``.

    With ``close_events`` it is built for inotify's observer (never started), so
    it counts files closed after writing instead of each write.
    """
    if not close_events:
        return Watcher(folders, lambda _: None, debounce_s=0.05, observer_factory=None)
    if not sys.platform.startswith("linux"):
        pytest.skip("inotify is Linux only")
    from watchdog.observers.inotify import InotifyObserver

    return Watcher(folders, lambda _: None, debounce_s=0.05, observer_factory=InotifyObserver)


def delivered(watcher: Watcher, *events: FileSystemEvent) -> list[str]:
    for event in events:
        watcher.dispatch(event)
    return drain(watcher)


BASE = Path("/srv/site")  # events name paths; nothing is read there


@pytest.fixture
def web() -> Path:
    return BASE / "web"


EVERY_KIND = [
    FileModifiedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileOpenedEvent,
    FileClosedNoWriteEvent,
    FileAttribEvent,
]


@pytest.mark.parametrize(
    ("close_events", "counted"),
    [
        (False, {FileModifiedEvent, FileCreatedEvent, FileDeletedEvent}),
        (True, {FileClosedEvent, FileCreatedEvent, FileDeletedEvent}),
    ],
    ids=["each-write", "inotify-close"],
)
def test_which_event_kinds_count(web: Path, close_events: bool, counted: set[type]) -> None:
    watcher = make_watcher(web, close_events=close_events)
    path = str(web / "views.py")
    for kind in EVERY_KIND:
        assert delivered(watcher, kind(path)) == ([path] if kind in counted else []), kind


@pytest.mark.parametrize(
    "relative",
    [
        "__pycache__/views.cpython-311.pyc",
        "__pycache__/views.py",
        "sub/__pycache__/x.py",
        ".hidden/x.py",
        "sub/.git/x.py",
        ".views.py.swp",
        "venv/lib/y.py",
        "env/lib/y.py",
        "lib/site-packages/z.py",
        "node_modules/a.py",
        "notes.txt",
        "views.pyc",
        "views.py~",
        "../outside.py",
        "../website/views.py",
    ],
)
def test_ignored_paths_are_not_delivered(web: Path, relative: str) -> None:
    watcher = make_watcher(web)
    path = str(web / relative)
    assert delivered(watcher, FileModifiedEvent(path), FileCreatedEvent(path)) == []


def test_paths_outside_every_folder_are_not_delivered(web: Path) -> None:
    watcher = make_watcher(web)
    assert delivered(watcher, FileModifiedEvent(str(BASE / "elsewhere" / "x.py"))) == []


@pytest.mark.parametrize("relative", ["views.py", "sub/deep/views.py", "sub", "Makefile"])
def test_source_files_and_folders_are_delivered(web: Path, relative: str) -> None:
    watcher = make_watcher(web)
    path = str(web / relative)
    assert delivered(watcher, FileDeletedEvent(path)) == [path]


def test_bytes_paths_are_delivered_as_text(web: Path) -> None:
    watcher = make_watcher(web)
    path = str(web / "views.py")
    assert delivered(watcher, FileModifiedEvent(path.encode())) == [path]


def test_folder_events(web: Path) -> None:
    watcher = make_watcher(web, close_events=True)
    sub, other = str(web / "sub"), str(web / "other")
    assert delivered(watcher, DirDeletedEvent(sub)) == [sub]  # the modules inside are gone
    assert delivered(watcher, DirMovedEvent(sub, other)) == [sub, other]
    assert delivered(watcher, DirCreatedEvent(sub)) == []  # the files inside report themselves
    assert delivered(watcher, DirMovedEvent(str(web / ".cache"), sub)) == [sub]


@pytest.mark.parametrize(
    ("source", "destination", "expected"),
    [
        ("web/a.py", "web/b.py", ["web/a.py", "web/b.py"]),
        ("web/.views.py.swp", "web/views.py", ["web/views.py"]),  # an editor's atomic save
        ("web/views.py", "web/views.py.bak", ["web/views.py"]),
        ("elsewhere/x.py", "web/x.py", ["web/x.py"]),
        ("web/x.py", "elsewhere/x.py", ["web/x.py"]),
        ("elsewhere/x.py", "elsewhere/y.py", []),
    ],
)
def test_moves_count_at_both_ends(source: str, destination: str, expected: list[str]) -> None:
    watcher = make_watcher(BASE / "web")
    event = FileMovedEvent(str(BASE / source), str(BASE / destination))
    assert delivered(watcher, event) == [str(BASE / name) for name in expected]


def watcher_with_first_folder(parent: Path, first: str) -> Watcher:
    """A watcher of the siblings ``web`` and ``website`` that judges paths against ``first`` first.

    Both folders are equally deep, so their order is the order of a set, which
    depends on the hash seed: try parent folders until the order is the one asked for.
    """
    for attempt in range(200):
        base = parent / f"p{attempt}"
        watcher = make_watcher(base / "web", base / "website")
        if watcher.folders[0].name == first:
            return watcher
    raise AssertionError(f"never got {first} first")  # 2**-200 for a fair order


@pytest.mark.parametrize("first", ["web", "website"])
def test_a_sibling_folder_sharing_a_prefix_is_its_own_folder(first: str) -> None:
    """``website/views.py`` is not under ``web``, even though the strings say so."""
    watcher = watcher_with_first_folder(BASE, first)
    base = watcher.folders[0].parent
    paths = [str(base / "website" / "views.py"), str(base / "web" / "views.py")]
    assert delivered(watcher, *map(FileModifiedEvent, paths)) == paths
    website_folder = str(base / "website")  # a folder event: the folder itself
    assert delivered(watcher, DirDeletedEvent(website_folder)) == [website_folder]


@pytest.mark.parametrize("first", ["web", "website"])
def test_dot_dot_paths_are_never_delivered(first: str) -> None:
    watcher = watcher_with_first_folder(BASE, first)
    base = watcher.folders[0].parent
    for tricky in ("web/../website/views.py", "website/../web/views.py", "web/../secret.py"):
        assert delivered(watcher, FileModifiedEvent(str(base / tricky))) == [], tricky


# --- Batching: the watcher's thread, a fake clock, a hand-driven queue ---------------------


class FakeClock:
    """Monotonic seconds that move only when the test moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class HandQueue(queue.Queue[object]):
    """A queue whose timed waits (the debounce) end only by :meth:`quiet`.

    Items put are handed out in order; a timed ``get`` that finds none waits
    until an item or a "quiet" comes, and a quiet makes it raise ``queue.Empty``
    as if ``timeout`` seconds had passed without an event.
    """

    def __init__(self) -> None:
        super().__init__()
        self._items: collections.deque[object] = collections.deque()
        self._quiet = 0
        self._changed = threading.Condition()
        self._waiting: str | None = None  # "batch": between batches; "quiet": debouncing
        self.timeouts: list[float] = []  # every timed get's timeout, in seconds

    def put(self, item: object, block: bool = True, timeout: float | None = None) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def get(self, block: bool = True, timeout: float | None = None) -> object:
        with self._changed:
            if not block:
                if not self._items:
                    raise queue.Empty
                return self._items.popleft()
            if timeout is not None:
                self.timeouts.append(timeout)
            self._waiting = "batch" if timeout is None else "quiet"
            self._changed.notify_all()
            # Unbounded in the watcher's thread only: stop() puts an item.
            self._changed.wait_for(lambda: self._items or (timeout is not None and self._quiet))
            self._waiting = None
            if self._items:
                return self._items.popleft()
            self._quiet -= 1
            raise queue.Empty

    def get_nowait(self) -> object:
        return self.get(block=False)

    def wait_until(self, waiting: str) -> None:
        """Wait until the watcher has taken every event and waits: for a "batch" or "quiet"."""
        with self._changed:
            assert self._changed.wait_for(
                lambda: self._waiting == waiting and not self._items, TIMEOUT_S
            ), f"the watcher is not waiting for {waiting!r}"

    def quiet(self) -> None:
        """End the pending debounce wait: no event came for ``timeout`` seconds."""
        with self._changed:
            self._quiet += 1
            self._changed.notify_all()


class Deliveries:
    """``on_change``: records each batch; can raise the exceptions it is given, in turn."""

    def __init__(self, raising: list[BaseException] | None = None) -> None:
        self.batches: list[set[str]] = []
        self._raising = list(raising or [])
        self._changed = threading.Condition()

    def __call__(self, batch: set[str]) -> None:
        with self._changed:
            self.batches.append(set(batch))
            self._changed.notify_all()
        if self._raising:
            raise self._raising.pop(0)

    def wait_for(self, count: int) -> list[set[str]]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.batches) >= count, TIMEOUT_S), (
                f"{len(self.batches)} batches, not {count}: {self.batches}"
            )
            return list(self.batches)


DEBOUNCE_S = 0.25


class Running:
    """A started watcher with its queue, clock and deliveries."""

    def __init__(self, watcher: Watcher, hand: HandQueue, clock: FakeClock, log: Deliveries):
        self.watcher, self.hand, self.clock, self.log = watcher, hand, clock, log

    def event(self, event: FileSystemEvent) -> None:
        self.watcher.dispatch(event)

    def delivered(self, count: int) -> list[set[str]]:
        """Wait for ``count`` batches and for the watcher to be done with the last one."""
        batches = self.log.wait_for(count)
        self.hand.wait_until("batch")
        assert self.log.batches == batches, "delivered more than expected"
        return batches


StartWatcher = Callable[..., Running]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[StartWatcher]:
    started: list[tuple[Watcher, threading.Thread]] = []

    def run(raising: list[BaseException] | None = None) -> Running:
        hand, clock, log = HandQueue(), FakeClock(), Deliveries(raising)
        watcher = Watcher(
            [tmp_path], log, debounce_s=DEBOUNCE_S, clock=clock, events=hand, observer_factory=None
        )
        before = set(threading.enumerate())
        watcher.start()
        (thread,) = set(threading.enumerate()) - before
        started.append((watcher, thread))
        hand.wait_until("batch")
        return Running(watcher, hand, clock, log)

    yield run
    for watcher, thread in started:
        watcher.stop(timeout_s=TIMEOUT_S)
        assert not thread.is_alive()


def existing(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_text("X = 1\n")
    return str(path)


def test_first_event_after_a_quiet_spell_is_delivered_at_once(
    start: StartWatcher, tmp_path: Path
) -> None:
    run = start()
    run.event(FileModifiedEvent(existing(tmp_path, "a.py")))
    assert run.delivered(1) == [{str(tmp_path / "a.py")}]
    assert run.hand.timeouts == []  # no debounce wait before it

    run.clock.now += DEBOUNCE_S  # a quiet spell: the next one is a leading edge again
    run.event(FileModifiedEvent(existing(tmp_path, "b.py")))
    assert run.delivered(2)[1] == {str(tmp_path / "b.py")}
    assert run.hand.timeouts == []


def test_a_burst_after_a_delivery_is_coalesced_into_one_batch(
    start: StartWatcher, tmp_path: Path
) -> None:
    run = start()
    paths = [existing(tmp_path, name) for name in ("a.py", "b.py", "c.py", "d.py")]
    run.event(FileModifiedEvent(paths[0]))
    run.delivered(1)
    run.clock.now += DEBOUNCE_S / 2  # within the debounce time of that delivery
    for path in [*paths[1:], paths[1]]:
        run.event(FileModifiedEvent(path))
    run.hand.wait_until("quiet")
    assert len(run.log.batches) == 1  # nothing delivered while the burst goes on
    run.event(FileCreatedEvent(existing(tmp_path, "e.py")))  # still the same burst
    run.hand.wait_until("quiet")
    run.hand.quiet()
    assert run.delivered(2) == [{paths[0]}, {*paths[1:], str(tmp_path / "e.py")}]
    assert run.hand.timeouts and set(run.hand.timeouts) == {DEBOUNCE_S}


def test_a_deleted_file_waits_for_its_re_creation(start: StartWatcher, tmp_path: Path) -> None:
    """``git checkout`` and safe-write editors: delete, then create; one batch."""
    run = start()
    path = tmp_path / "views.py"
    run.event(FileDeletedEvent(str(path)))
    run.hand.wait_until("quiet")
    assert run.hand.timeouts == [DEBOUNCE_S]
    assert run.log.batches == []  # not delivered as a deletion
    path.write_text("X = 2\n")
    run.event(FileCreatedEvent(str(path)))
    run.hand.wait_until("quiet")
    run.hand.quiet()
    assert run.delivered(1) == [{str(path)}]
    run.clock.now += DEBOUNCE_S
    run.event(FileModifiedEvent(existing(tmp_path, "later.py")))
    assert run.delivered(2)[1] == {str(tmp_path / "later.py")}


def test_a_deletion_nobody_undoes_is_delivered_after_the_quiet_time(
    start: StartWatcher, tmp_path: Path
) -> None:
    run = start()
    run.event(FileDeletedEvent(str(tmp_path / "gone.py")))
    run.hand.wait_until("quiet")
    assert run.log.batches == []
    run.hand.quiet()
    assert run.delivered(1) == [{str(tmp_path / "gone.py")}]


def test_stop_during_a_debounce_wait_delivers_the_batch_and_ends(
    start: StartWatcher, tmp_path: Path
) -> None:
    run = start()
    run.event(FileDeletedEvent(str(tmp_path / "gone.py")))
    run.hand.wait_until("quiet")
    run.watcher.stop(timeout_s=TIMEOUT_S)
    assert run.log.batches == [{str(tmp_path / "gone.py")}]


def test_whatever_on_change_raises_the_thread_goes_on(
    start: StartWatcher, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raising: list[BaseException] = [KeyboardInterrupt(), SystemExit(3), RuntimeError("boom")]
    run = start(raising=raising)
    with caplog.at_level(logging.ERROR, logger="staticreload.watcher"):
        for index in range(4):
            run.clock.now += DEBOUNCE_S
            run.event(FileModifiedEvent(existing(tmp_path, f"m{index}.py")))
            run.delivered(index + 1)
    assert run.log.batches == [{str(tmp_path / f"m{index}.py")} for index in range(4)]
    failures = [r.exc_info[0] for r in caplog.records if r.exc_info]
    assert failures == [KeyboardInterrupt, SystemExit, RuntimeError]
