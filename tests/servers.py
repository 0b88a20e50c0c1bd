"""A real ``staticreload serve`` subprocess and a small HTTP client, for end-to-end tests."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

START_TIMEOUT_S = 90.0
CHANGE_TIMEOUT_S = 20.0
# Each step of stop(): SIGINT, then SIGTERM, then SIGKILL, waits this long at most.
STOP_TIMEOUT_S = 15.0

# Starts the server with SIGINT ignored, as a shell without job control starts
# `cmd &`: exec keeps an ignored signal ignored. (Not Popen's preexec_fn, which
# is unsafe in a process with threads, such as this one.)
_EXEC_WITH_SIGINT_IGNORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


class Server:
    """``python -m staticreload serve ARGS --port 0`` in ``cwd``, stopped with Ctrl-C (SIGINT).

    Attributes:
        stopped_by: the signal that ended the process in :meth:`stop`, or None.
        stop_duration_s: how long :meth:`stop` took to see the process end.
    """

    def __init__(
        self,
        *args: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        sigint_ignored: bool = False,
    ) -> None:
        self.args = args
        self.cwd = cwd
        self.sigint_ignored = sigint_ignored
        self.stopped_by: signal.Signals | None = None
        self.stop_duration_s = 0.0
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.lines: list[str] = []
        self.url = ""
        self._ready = threading.Event()
        self.process: subprocess.Popen[str] | None = None
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def __enter__(self) -> Server:
        command = [sys.executable, "-m", "staticreload", "serve", *self.args, "--port", "0"]
        if self.sigint_ignored:
            command[1:1] = ["-c", _EXEC_WITH_SIGINT_IGNORED]
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._ready.wait(START_TIMEOUT_S) or not self.url:
            self.stop()
            raise AssertionError("server did not start:\n" + "".join(self.lines))
        return self

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            found = re.search(r"serving on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()  # exited

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self, first: signal.Signals = signal.SIGINT) -> int:
        """Send ``first``, then SIGTERM, then SIGKILL, each after a bounded wait.

        Returns:
            The exit code (negative: the signal that killed it).
        """
        assert self.process is not None
        started = time.monotonic()
        for signum in dict.fromkeys([first, signal.SIGTERM, signal.SIGKILL]):
            if self.process.poll() is not None:
                break
            self.process.send_signal(signum)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                continue
            self.stopped_by = signum
            break
        self.stop_duration_s = time.monotonic() - started
        self._reader.join(STOP_TIMEOUT_S)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return self.process.wait(STOP_TIMEOUT_S)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def worker_pid(self) -> int:
        """The worker serving now, as the supervisor last logged it."""
        for line in reversed(self.lines):
            found = re.search(r"serving on \S+ \(worker (\d+)\)|worker (\d+) serving", line)
            if found:
                return int(found.group(1) or found.group(2))
        raise AssertionError("no worker has served yet:\n" + "".join(self.lines))

    def wait_for_line(self, pattern: str, timeout_s: float = CHANGE_TIMEOUT_S) -> str:
        """Wait until a logged line matches ``pattern`` (a regular expression); returns it."""
        found: list[str] = []

        def logged() -> bool:
            found[:] = [line for line in list(self.lines) if re.search(pattern, line)]
            return bool(found)

        wait_until(logged, timeout_s)
        return found[0]

    def request(
        self, path: str, data: dict[str, str] | None = None, timeout_s: float = 30.0
    ) -> tuple[int, str]:
        """GET (or POST ``data``) ``path``; returns status and body, 5xx included."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.url + path, data=body, timeout=timeout_s) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def wait_for(
        self, path: str, predicate: Callable[[int, str], bool], timeout_s: float = CHANGE_TIMEOUT_S
    ) -> tuple[int, str]:
        """Poll ``path`` until ``predicate(status, body)``; fail after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        status, body = 0, ""
        while time.monotonic() < deadline:
            assert self.alive, "server died:\n" + "".join(self.lines)
            status, body = self.request(path)
            if predicate(status, body):
                return status, body
            time.sleep(0.01)  # a polling interval, not a wait for an outcome
        raise AssertionError(f"timed out on {path}; last {status}: {body[:500]}")


class Clients:
    """Clients requesting a path back to back, each in its own thread, recording every answer.

    Attributes:
        responses: ``(time.monotonic(), status, body)`` of every answered request.
        failures: what each unanswered request raised (refused, reset, timed out).
    """

    def __init__(self, server: Server, count: int = 1, path: str = "/") -> None:
        self.server = server
        self.path = path
        self.responses: list[tuple[float, int, str]] = []
        self.failures: list[BaseException] = []
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def _run(self) -> None:
        deadline = time.monotonic() + 120  # bounded in time as well as by stop()
        while not self._done.is_set() and time.monotonic() < deadline:
            try:
                status, body = self.server.request(self.path, timeout_s=30)
            except Exception as error:
                self.failures.append(error)
            else:
                self.responses.append((time.monotonic(), status, body))

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join(STOP_TIMEOUT_S)

    def bodies_after(self, moment: float) -> list[str]:
        """The bodies of the responses received after ``moment`` (``time.monotonic()``)."""
        return [body for at, _, body in list(self.responses) if at > moment]


def write_module(path: Path, text: str) -> None:
    """Write a module as an editor would: a temporary file renamed over it."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def descendants(pid: int) -> set[int]:
    """The processes ``pid`` started, and theirs, as Linux's /proc lists them (else empty)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found |= {child, *descendants(child)}
    return found


def process_gone(pid: int) -> bool:
    """Whether a process has ended (a zombie waiting to be reaped counts as ended)."""
    if not os.path.isdir("/proc"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def wait_until(condition: Callable[[], bool], timeout_s: float = CHANGE_TIMEOUT_S) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        time.sleep(0.01)  # a polling interval, not a wait for an outcome


# An app whose every response must be wholly old or wholly new: pages copies
# prices at import time, slowly; app reads both through the package at
# request time. A request let in during a reload would see new prices with old
# pages ("v1/v0"), or a submodule missing from its package.
TORN_RESPONSE_APP = {
    "shop/__init__.py": "",
    "shop/prices.py": "VERSION = 0\n",
    "shop/pages.py": (
        "import time\nfrom shop import prices\ntime.sleep(0.02)\nVERSION = prices.VERSION\n"
    ),
    "shop/app.py": (
        "import shop.pages\nimport shop.prices\n"
        "def application(environ, start_response):\n"
        "    body = f'v{shop.prices.VERSION}/v{shop.pages.VERSION}'.encode()\n"
        "    start_response('200 OK', [('Content-Length', str(len(body)))])\n"
        "    return [body]\n"
    ),
}


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write ``{relative path: text}`` under ``root``."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
