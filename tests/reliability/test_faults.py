"""Fault injection: each broken edit leaves the last good code loaded, with a clear
``ReloadError``, and the next good edit recovers."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from staticreload import LiveReload, Reloader, ReloadError, ReloadResult
from tests.conftest import WriteProject
from tests.reliability.conftest import STATS

FILES = {
    "svc/__init__.py": "",
    "svc/config.py": "RATE = 2\n",
    "svc/prices.py": "from svc.config import RATE\nPRICE = 10 * RATE\n",
    "svc/api.py": "from svc import prices\nANSWER = prices.PRICE + 1\n",
}
GOOD_CONFIG = "RATE = 3\n"


@pytest.fixture
def service(project: WriteProject) -> Iterator[tuple[Path, Reloader]]:
    root = project(FILES)
    reloader = Reloader.from_targets("svc", root=root)
    reloader.install()
    __import__("svc.api")
    yield root, reloader
    reloader.uninstall()


def assert_last_good_code(answer: int = 21) -> None:
    assert answer == sys.modules["svc.api"].ANSWER
    assert sys.modules["svc"].api is sys.modules["svc.api"]


def break_and_recover(
    root: Path, reloader: Reloader, breaking: Callable[[Path], list[Path]]
) -> ReloadResult:
    """Apply a fault, check the old code survives, then a good edit; returns the failure."""
    modules_before = dict(sys.modules)
    failed = reloader.reload_paths(breaking(root))
    assert not failed.ok, "the broken edit was applied"
    assert isinstance(failed.error, ReloadError)
    assert str(failed.error).startswith("reload failed at ")
    assert_last_good_code()
    assert {k: v for k, v in sys.modules.items() if k.startswith("svc")} == {
        k: v for k, v in modules_before.items() if k.startswith("svc")
    }
    STATS["faults survived"] += 1
    return failed


def write(path: Path, text: str | bytes) -> list[Path]:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return [path]


def recover(root: Path, reloader: Reloader, *extra: Path) -> None:
    (root / "svc/config.py").write_text(GOOD_CONFIG)
    result = reloader.reload_paths([root / "svc/config.py", *extra])
    assert result.ok, result.error
    assert_last_good_code(31)


def test_syntax_error(service: tuple[Path, Reloader]) -> None:
    root, reloader = service
    failed = break_and_recover(root, reloader, lambda r: write(r / "svc/config.py", "RATE = (\n"))
    assert failed.error is not None and failed.error.lineno == 1
    assert failed.error.path == str(root / "svc/config.py")
    recover(root, reloader)


def test_exception_at_import_time(service: tuple[Path, Reloader]) -> None:
    root, reloader = service
    failed = break_and_recover(
        root, reloader, lambda r: write(r / "svc/config.py", "RATE = 3\nraise KeyError('x')\n")
    )
    assert failed.rolled_back and failed.error is not None
    assert (failed.error.module, failed.error.lineno) == ("svc.config", 2)
    recover(root, reloader)


def test_missing_import_target(service: tuple[Path, Reloader]) -> None:
    root, reloader = service
    failed = break_and_recover(
        root, reloader, lambda r: write(r / "svc/prices.py", "from svc.nowhere import RATE\n")
    )
    assert failed.error is not None and "ModuleNotFoundError" in str(failed.error)
    (root / "svc/prices.py").write_text(FILES["svc/prices.py"])
    recover(root, reloader, root / "svc/prices.py")


def test_import_cycle_that_cannot_initialise(service: tuple[Path, Reloader]) -> None:
    root, reloader = service
    failed = break_and_recover(
        root,
        reloader,
        lambda r: write(r / "svc/config.py", "from svc.prices import PRICE\nRATE = PRICE\n"),
    )
    assert failed.error is not None and "ImportError" in str(failed.error)
    recover(root, reloader)


def test_module_deleted_while_imported(service: tuple[Path, Reloader]) -> None:
    root, reloader = service

    def delete(r: Path) -> list[Path]:
        (r / "svc/config.py").unlink()
        return [r / "svc/config.py"]

    break_and_recover(root, reloader, delete)
    recover(root, reloader)


def test_module_turned_into_a_package(service: tuple[Path, Reloader]) -> None:
    root, reloader = service
    (root / "svc/config.py").unlink()
    (root / "svc/config").mkdir()
    (root / "svc/config/__init__.py").write_text("RATE = 5\n")
    result = reloader.reload_paths([root / "svc/config.py", root / "svc/config/__init__.py"])
    assert result.ok, result.error
    assert sys.modules["svc.api"].ANSWER == 51
    assert hasattr(sys.modules["svc.config"], "__path__")


def test_file_that_is_not_utf8(service: tuple[Path, Reloader]) -> None:
    root, reloader = service
    failed = break_and_recover(
        root, reloader, lambda r: write(r / "svc/config.py", b"RATE = '\xff\xfe'\n")
    )
    assert failed.error is not None and failed.error.path == str(root / "svc/config.py")
    recover(root, reloader)


def test_empty_file(service: tuple[Path, Reloader]) -> None:
    root, reloader = service
    failed = break_and_recover(root, reloader, lambda r: write(r / "svc/config.py", ""))
    assert failed.error is not None and failed.error.module == "svc.prices"
    recover(root, reloader)


def test_file_replaced_by_a_directory(service: tuple[Path, Reloader]) -> None:
    root, reloader = service

    def replace(r: Path) -> list[Path]:
        (r / "svc/config.py").unlink()
        (r / "svc/config.py").mkdir()
        return [r / "svc/config.py"]

    break_and_recover(root, reloader, replace)
    shutil.rmtree(root / "svc/config.py")
    recover(root, reloader)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_permission_denied(service: tuple[Path, Reloader]) -> None:
    root, reloader = service

    def lock(r: Path) -> list[Path]:
        (r / "svc/config.py").write_text(GOOD_CONFIG)
        (r / "svc/config.py").chmod(0)
        return [r / "svc/config.py"]

    failed = break_and_recover(root, reloader, lock)
    assert failed.error is not None and "PermissionError" in str(failed.error)
    (root / "svc/config.py").chmod(0o644)
    recover(root, reloader)


def test_a_hundred_saves_in_a_second(service: tuple[Path, Reloader]) -> None:
    """Through the real watcher: a few reloads, never a half-applied state, the last wins."""
    root, reloader = service
    results: list[ReloadResult] = []
    observed: list[tuple[int, int]] = []
    finished = threading.Condition()

    def after(result: ReloadResult) -> None:
        # Runs under the writer lock: what a request would see right after.
        observed.append((sys.modules["svc.config"].RATE, sys.modules["svc.api"].ANSWER))
        with finished:
            results.append(result)
            finished.notify_all()

    reloader.add_post_reload_hook(after)
    # A debounce far above any pause between these writes, even on a loaded
    # machine: the whole loop is one burst, which the watcher promises to
    # apply in one reload (leading edge) or two (plus the trailing edge).
    config = root / "svc/config.py"
    with LiveReload(reloader, debounce_s=1.0):
        for rate in range(1, 101):
            temporary = config.with_name(f".config.py.{rate}")
            temporary.write_text(f"RATE = {rate}\n")
            os.replace(temporary, config)
        with finished:
            assert finished.wait_for(lambda: sys.modules["svc.config"].RATE == 100, timeout=20)
    assert 1 <= len(results) <= 2, len(results)
    assert all(result.ok for result in results)
    assert all(answer == 10 * rate + 1 for rate, answer in observed), observed
    assert sys.modules["svc.api"].ANSWER == 1001
    STATS["saves in a burst"] += 100
    STATS["reloads for those saves"] += len(results)
