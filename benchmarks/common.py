"""Helpers shared by the benchmarks: statistics, HTTP polling, server processes, files."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[1]


def summary(samples: Sequence[float]) -> dict[str, float | int]:
    """Median, p90, max, min and count of samples (seconds in, seconds out)."""
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "p90": p90,
        "max": ordered[-1],
        "min": ordered[0],
        "mean": statistics.fmean(ordered),
    }


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    """Run ``function`` ``repeat`` times; the durations in seconds."""
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        durations.append(time.perf_counter() - started)
    return durations


def get(url: str, timeout_s: float = 5.0) -> str | None:
    """The body of a GET, or None if the server is not answering (restarting)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        return error.read().decode()
    except (OSError, http.client.HTTPException):  # refused or cut off while restarting
        return None


def poll_until(url: str, predicate: Callable[[str], bool], timeout_s: float) -> float:
    """GET ``url`` back to back until ``predicate(body)``; the time it held, perf_counter."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        body = get(url)
        if body is not None and predicate(body):
            return time.perf_counter()
    raise TimeoutError(f"{url} did not change within {timeout_s} s")


def copy_example(into: Path) -> Path:
    """A copy of example_wsgi in ``into``; returns ``into``."""
    shutil.copytree(
        REPO / "example_wsgi", into / "example_wsgi", ignore=shutil.ignore_patterns("__pycache__")
    )
    return into


class ServerProcess:
    """A server subprocess that prints ``serving on http://HOST:PORT`` when ready."""

    def __init__(
        self,
        command: Sequence[str],
        cwd: Path,
        env: dict[str, str] | None = None,
        start_timeout_s: float = 120.0,
    ) -> None:
        self.command = list(command)
        self.cwd = cwd
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.start_timeout_s = start_timeout_s
        self.url = ""
        self.lines: list[str] = []
        self._ready = threading.Event()

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(self.start_timeout_s) or not self.url:
            self.stop()
            raise RuntimeError(f"{self.command} did not start:\n{''.join(self.lines[-30:])}")
        return self

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"serving on (http://[\w.:\[\]]+)", line)
            if found and not self.url:
                self.url = found.group(1).rstrip("/")
                self._ready.set()
        self._ready.set()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15)
        self._reader.join(15)
        if self.process.stdout is not None:
            self.process.stdout.close()


def python_for(version: str) -> str | None:
    """An interpreter of ``version`` (``"3.12"``) or newer on this machine, or None.

    Looks at this interpreter, then pyenv's installed versions, then ``PATH``.
    """
    major, minor = (int(part) for part in version.split("."))
    if sys.version_info >= (major, minor):
        return sys.executable
    pyenv = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "versions"
    candidates = [
        str(path)
        for later in range(minor, 16)
        for path in sorted(pyenv.glob(f"{major}.{later}.*/bin/python{major}.{later}"))
    ]
    candidates += [
        found for later in range(minor, 16) if (found := shutil.which(f"python{major}.{later}"))
    ]
    for candidate in candidates:
        try:
            subprocess.run([candidate, "--version"], check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        return candidate
    return None
