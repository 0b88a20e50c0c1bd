"""``staticreload serve`` as a process: bad options, stop signals, a quick exit, ``--watch``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import (
    Server,
    descendants,
    process_gone,
    wait_until,
    write_files,
    write_module,
)

APP = {
    "webapp/__init__.py": "",
    "webapp/views.py": "VERSION = 0\n",
    "webapp/main.py": (
        "import os\n"
        "from webapp import views\n"
        "if os.environ.get('LOADED_MARKER'):\n"
        "    open(os.environ['LOADED_MARKER'], 'w').close()\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'v%d' % views.VERSION]\n"
    ),
}


def run_serve(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "staticreload", "serve", "webapp.main:app", "--port", "0", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,  # a server that started would run until this
    )


@pytest.mark.parametrize(
    ("args", "env_value", "culprit"),
    [
        (["--debounce", "-1"], None, "--debounce='-1'"),
        (["--debounce", "abc"], None, "--debounce='abc'"),
        (["--debounce", "nan"], None, "--debounce='nan'"),
        (["--debounce", "inf"], "0.1", "--debounce='inf'"),
        ([], "abc", "STATICRELOAD_DEBOUNCE_S='abc'"),
        ([], "-0.5", "STATICRELOAD_DEBOUNCE_S='-0.5'"),
        ([], "nan", "STATICRELOAD_DEBOUNCE_S='nan'"),
    ],
)
def test_a_bad_debounce_is_one_line_naming_its_source_exit_2_before_loading(
    tmp_path: Path, args: list[str], env_value: str | None, culprit: str
) -> None:
    write_files(tmp_path, APP)
    marker = tmp_path / "loaded"
    env = {"LOADED_MARKER": str(marker), "STATICRELOAD_DEBOUNCE_S": env_value or ""}
    result = run_serve(tmp_path, *args, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"staticreload: error: {culprit}: expected a number")
    assert result.stderr.count("\n") == 1, result.stderr
    assert not marker.exists()  # detected before the application was imported


@pytest.mark.parametrize(
    ("args", "env_value", "culprit"),
    [
        (["--import-timeout", "-1"], None, "--import-timeout='-1'"),
        (["--import-timeout", "soon"], "5", "--import-timeout='soon'"),
        ([], "nan", "STATICRELOAD_IMPORT_TIMEOUT_S='nan'"),
    ],
)
def test_a_bad_import_timeout_is_one_line_exit_2_before_loading(
    tmp_path: Path, args: list[str], env_value: str | None, culprit: str
) -> None:
    write_files(tmp_path, APP)
    marker = tmp_path / "loaded"
    env = {"LOADED_MARKER": str(marker), "STATICRELOAD_IMPORT_TIMEOUT_S": env_value or ""}
    result = run_serve(tmp_path, *args, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"staticreload: error: {culprit}: expected a number")
    assert result.stderr.count("\n") == 1, result.stderr
    assert not marker.exists()


def test_the_flag_wins_over_a_bad_variable(tmp_path: Path) -> None:
    write_files(tmp_path, APP)
    env = {"STATICRELOAD_DEBOUNCE_S": "abc"}
    with Server("webapp.main:app", "--debounce", "0.01", cwd=tmp_path, env=env) as server:
        assert server.request("/") == (200, "v0")


@pytest.mark.parametrize(
    ("sigint_ignored", "signum"),
    [
        (True, signal.SIGINT),  # started with `&` by a shell without job control
        (True, signal.SIGTERM),
        (False, signal.SIGTERM),  # what process managers send
    ],
)
def test_stop_signals_stop_the_server_cleanly(
    tmp_path: Path, sigint_ignored: bool, signum: signal.Signals
) -> None:
    write_files(tmp_path, APP)
    with Server("webapp.main:app", cwd=tmp_path, sigint_ignored=sigint_ignored) as server:
        assert server.request("/") == (200, "v0")
        assert server.process is not None
        workers = {server.worker_pid} | descendants(server.process.pid)  # the spare too
        assert server.stop(signum) == 0
        assert server.stopped_by == signum, "it took a stronger signal to stop"
    assert any(f"stopped ({signum.name})" in line for line in server.lines), server.lines
    assert all(map(process_gone, workers)), workers  # the supervisor waited for them


def test_a_killed_supervisor_leaves_no_worker(tmp_path: Path) -> None:
    write_files(tmp_path, APP)
    with Server("webapp.main:app", cwd=tmp_path) as server:
        assert server.request("/") == (200, "v0")
        assert server.process is not None
        wait_until(lambda: len(descendants(server.process.pid)) >= 2)  # the worker, the spare
        workers = {server.worker_pid} | descendants(server.process.pid)
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        wait_until(lambda: all(map(process_gone, workers)))


# Holds about a million objects the garbage collector tracks, as a loaded
# model does; at exit, records how many the interpreter's final collections
# still have to walk.
BIG_HEAP_APP = {
    "bigheap.py": (
        "import atexit, gc, os\n"
        "MODEL = [{'word': [i]} for i in range(500_000)]\n"
        "@atexit.register\n"
        "def count():\n"
        "    with open(os.environ['TRACKED_AT_EXIT'], 'w') as log:\n"
        "        log.write(str(len(gc.get_objects())))\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'ok']\n"
    ),
}


def test_exit_does_not_walk_the_applications_heap(tmp_path: Path) -> None:
    write_files(tmp_path, BIG_HEAP_APP)
    tracked = tmp_path / "tracked"
    with Server("bigheap:app", cwd=tmp_path, env={"TRACKED_AT_EXIT": str(tracked)}) as server:
        assert server.request("/") == (200, "ok")
        assert server.stop() == 0
        assert server.stopped_by == signal.SIGINT
    assert int(tracked.read_text()) < 100_000  # not the model's 1,000,000


def test_watch_names_the_folders_to_reload(tmp_path: Path) -> None:
    files = {
        **APP,
        "lib/__init__.py": "",
        "lib/text.py": "SUFFIX = 'a'\n",
        "webapp/main.py": APP["webapp/main.py"].replace(
            "return [b'v%d' % views.VERSION]", "return [lib.text.SUFFIX.encode()]"
        )
        + "import lib.text\n",
    }
    write_files(tmp_path, files)
    with Server("webapp.main:app", "--watch", "webapp", "--watch", "lib", cwd=tmp_path) as server:
        assert server.request("/") == (200, "a")
        write_module(tmp_path / "lib/text.py", "SUFFIX = 'b'\n")  # outside the app's package
        server.wait_for("/", lambda status, body: body == "b")
