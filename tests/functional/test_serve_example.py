"""End to end: ``staticreload serve`` on the example app, real HTTP, real edits."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.servers import Server, process_gone, wait_until, write_module

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of example_wsgi, so that the edits never touch the repository."""
    shutil.copytree(
        REPO / "example_wsgi",
        tmp_path / "example_wsgi",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return tmp_path


def test_view_edits_are_served_without_training_the_model_again(example: Path) -> None:
    loads = example / "loads.log"
    home = example / "example_wsgi" / "views" / "home.py"
    original = home.read_text()
    with Server(
        "example_wsgi.app:application", cwd=example, env={"EXAMPLE_WSGI_LOAD_LOG": str(loads)}
    ) as server:
        status, body = server.request("/")
        assert status == 200 and body.startswith("Hello from staticreload")
        trained = body.partition(" and took ")[2]  # the model's training time: one per process
        worker = server.worker_pid

        write_module(home, original.replace("Hello from", "Howdy from"))
        server.wait_for("/", lambda s, b: s == 200 and b.startswith("Howdy from"))

        write_module(home, original.replace("def index(", "def index(:"))  # syntax error
        status, body = server.wait_for("/", lambda s, b: s == 500)
        assert "home.py" in body and "SyntaxError" in body
        assert server.request("/suggest?word=import")[0] == 500  # every request, until fixed

        write_module(home, original.replace("Hello from", "Fixed from"))
        server.wait_for("/", lambda s, b: s == 200 and b.startswith("Fixed from"))
        # A file that does not compile fails a cold start alike: no check ran.
        assert len(loads.read_text().splitlines()) == 1

        # An exception at import time: the page at once; a cold start (in a process
        # of its own, training the model there) fails too, so the page stays.
        write_module(home, original + "\nBROKEN = 1 / 0\n")
        status, body = server.wait_for("/", lambda s, b: s == 500)
        assert "ZeroDivisionError" in body and "home.py" in body

        write_module(home, original.replace("Hello from", "Again from"))
        status, body = server.wait_for("/", lambda s, b: s == 200 and b.startswith("Again"))
        assert body.partition(" and took ")[2] == trained  # the same model, never trained again
        assert server.request("/suggest?word=import")[0] == 200
        assert server.worker_pid == worker  # every edit was hot: no restart
        assert server.alive
        assert server.stop() == 0  # Ctrl-C stops it cleanly...
        assert server.stopped_by == signal.SIGINT  # ...without a stronger signal
    assert process_gone(worker)


def test_on_error_keep_serves_the_last_good_app(example: Path) -> None:
    home = example / "example_wsgi" / "views" / "home.py"
    original = home.read_text()
    with Server("example_wsgi.app:application", "--on-error", "keep", cwd=example) as server:
        write_module(home, original + "\nBROKEN = 1 / 0\n")
        wait_until(lambda: any("rolled back" in line for line in server.lines))
        status, body = server.request("/")
        assert status == 200 and body.startswith("Hello from staticreload")
        write_module(home, original.replace("Hello from", "Recovered from"))
        server.wait_for("/", lambda s, b: b.startswith("Recovered from"))


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuchmodule:app", "no module named 'nosuchmodule'"),
        ("tiny.nosuch:app", "no module named 'tiny.nosuch'"),
        ("tiny:missing", "has no 'missing'"),
        ("tiny:NOT_CALLABLE", "not a callable"),
        ("no-colon", "expected 'package.module:attribute'"),
    ],
)
def test_bad_targets_exit_2_with_one_line(tmp_path: Path, target: str, message: str) -> None:
    (tmp_path / "tiny.py").write_text(
        textwrap.dedent("""\
        NOT_CALLABLE = 3
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"ok"]
    """)
    )
    result = subprocess.run(
        [sys.executable, "-m", "staticreload", "serve", target, "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
