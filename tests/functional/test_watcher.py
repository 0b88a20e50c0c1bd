"""The real watchdog observer driving a Reloader: bounded waits, no fixed sleeps.

To show that something did *not* happen, each test ends with an edit to a
sentinel module and waits for its reload: events are handled in order, so
any reload the earlier writes caused has been reported by then.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from staticreload import LiveReload, Reloader, ReloadResult
from tests.conftest import WriteProject

TIMEOUT_S = 15.0


class ReloadLog:
    def __init__(self, reloader: Reloader) -> None:
        self.results: list[ReloadResult] = []
        self._condition = threading.Condition()
        reloader.add_post_reload_hook(self._add)

    def _add(self, result: ReloadResult) -> None:
        with self._condition:
            self.results.append(result)
            self._condition.notify_all()

    def wait_for(self, predicate: Callable[[list[ReloadResult]], bool]) -> list[ReloadResult]:
        with self._condition:
            assert self._condition.wait_for(lambda: predicate(self.results), TIMEOUT_S), (
                f"timed out; results so far: {self.results}"
            )
            return list(self.results)

    def touching(self, module: str) -> list[ReloadResult]:
        return [r for r in self.results if module in r.changed]


@pytest.fixture
def watched(project: WriteProject) -> Iterator[tuple[Path, Reloader, ReloadLog]]:
    root = project(
        {
            "web/__init__.py": "",
            "web/views.py": "VERSION = 0\n",
            "web/sentinel.py": "N = 0\n",
            "web/page.py": "from web.views import VERSION\n",
        }
    )
    reloader = Reloader.from_targets("web", root=root)
    reloader.install()
    log = ReloadLog(reloader)
    with LiveReload(reloader, debounce_s=0.05):
        __import__("web.page")
        __import__("web.sentinel")
        yield root, reloader, log


def settle(root: Path, log: ReloadLog, n: int) -> None:
    """Edit the sentinel and wait until that reload is reported."""
    (root / "web/sentinel.py").write_text(f"N = {n}\n")
    log.wait_for(lambda _: n == sys.modules["web.sentinel"].N)


def test_an_edit_reloads_its_importers(watched: tuple[Path, Reloader, ReloadLog]) -> None:
    root, _, log = watched
    (root / "web/views.py").write_text("VERSION = 1\n")
    log.wait_for(lambda results: any(r.ok and "web.views" in r.changed for r in results))
    assert sys.modules["web.page"].VERSION == 1


def test_atomic_rename_save_reloads_exactly_once(
    watched: tuple[Path, Reloader, ReloadLog],
) -> None:
    root, _, log = watched
    temporary = root / "web" / ".views.py.swp"
    temporary.write_text("VERSION = 2\n")
    os.replace(temporary, root / "web/views.py")
    log.wait_for(lambda results: any("web.views" in r.changed for r in results))
    settle(root, log, 1)
    assert len(log.touching("web.views")) == 1
    assert sys.modules["web.page"].VERSION == 2


def test_a_burst_of_saves_gives_one_or_two_reloads_and_the_last_wins(
    watched: tuple[Path, Reloader, ReloadLog],
) -> None:
    root, _, log = watched
    for version in range(1, 11):  # as editors save: a temporary file renamed over the module
        temporary = root / "web" / f".views.py.{version}.tmp"
        temporary.write_text(f"VERSION = {version}\n")
        os.replace(temporary, root / "web/views.py")
    log.wait_for(lambda _: sys.modules["web.page"].VERSION == 10)
    settle(root, log, 2)
    assert 1 <= len(log.touching("web.views")) <= 2
    assert all(r.ok for r in log.results)


def test_unchanged_saves_and_ignored_files_reload_nothing(
    watched: tuple[Path, Reloader, ReloadLog],
) -> None:
    root, _, log = watched
    (root / "web/views.py").write_text("VERSION = 0\n")  # same content
    for ignored in (
        ".hidden/x.py",
        "__pycache__/views.cpython-311.py",
        "venv/lib/y.py",
        "notes.txt",
    ):
        path = root / "web" / ignored
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("raise SystemExit('must never be imported')\n")
    settle(root, log, 3)
    assert [r.changed for r in log.results] == [("web.sentinel",)]


def test_a_broken_edit_does_not_stop_the_watcher(
    watched: tuple[Path, Reloader, ReloadLog],
) -> None:
    root, reloader, log = watched
    errors: list[object] = []
    reloader.add_error_handler(errors.append)
    (root / "web/views.py").write_text("VERSION = (\n")
    log.wait_for(lambda results: any(not r.ok for r in results))
    (root / "web/views.py").write_text("VERSION = 5\n")
    log.wait_for(lambda _: sys.modules["web.page"].VERSION == 5)
    assert len(errors) == 1


def test_new_and_deleted_files(watched: tuple[Path, Reloader, ReloadLog]) -> None:
    root, reloader, log = watched
    (root / "web/extra.py").write_text("E = 1\n")
    (root / "web/page.py").write_text("from web.views import VERSION\nfrom web.extra import E\n")
    log.wait_for(lambda _: getattr(sys.modules["web.page"], "E", None) == 1)
    assert "web.extra" in reloader.map
    (root / "web/page.py").write_text("from web.views import VERSION\n")
    (root / "web/extra.py").unlink()
    log.wait_for(lambda _: "web.extra" not in reloader.map and "web.extra" not in sys.modules)
    assert not hasattr(sys.modules["web.page"], "E")
