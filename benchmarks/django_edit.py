"""Django: edit to new response, staticreload against ``manage.py runserver``, one project, one run.

The project is tests/django_project, copied into a temporary folder and
migrated there. Two edits, each repeated (10 times by default), on the page
``/books/``: a view edit (the heading a class-based view in ``catalog/views.py``
puts in the context) and a model edit (``Book.label`` in ``catalog/models.py``).
The figure is the time from the write to the first response that shows the
edit, one client polling back to back.

``runserver`` restarts its process for both (its default ``StatReloader``
polls files once a second). ``staticreload serve`` reloads the view edit in
place; a models edit cannot run again in place (the app registry refuses
models a second time), so its supervisor starts a new worker, which takes
over once it has loaded the project.

    python -m benchmarks.django_edit [--edits 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, ServerProcess, poll_until, summary

PROJECT = REPO / "tests" / "django_project"
PAGE = "/books/"
PAUSE_S = 0.3  # between edits: longer than the debounce window, so each edit stands alone
CHANGE_TIMEOUT_S = 60.0


class _Runserver(ServerProcess):
    """``manage.py runserver``: ready once it prints where it listens."""

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"Starting development server at (http://[\w.:]+)", line)
            if found and not self.url:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()


@dataclass(frozen=True)
class Edit:
    """One kind of edit: ``old`` in ``file`` replaced by ``new(n)``.

    The page then shows ``shown(n)``, and ``original`` once the file is put back.
    """

    file: str
    old: str
    new: Callable[[int], str]
    shown: Callable[[int], str]
    original: str


EDITS = {
    "view": Edit(
        "catalog/views.py",
        '"All books"',
        lambda n: f'"Edit {n}"',
        lambda n: f"<h1>Edit {n}</h1>",
        "<h1>All books</h1>",
    ),
    "model": Edit(
        "catalog/models.py",
        'f"{self.title} by {self.author}"',
        lambda n: f'f"{{self.title}} #{n}"',
        lambda n: f"A Wizard of Earthsea #{n}<",
        "A Wizard of Earthsea by Ursula K. Le Guin<",
    ),
}


def _environment(folder: Path) -> dict[str, str]:
    """The servers' environment. Until ``serve`` wires the Django integration itself,
    the end-to-end tests' by-hand wiring (issue 13); then only DJANGO_SETTINGS_MODULE removed."""
    from tests.functional.test_django import server_environment

    return server_environment(folder)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _measure(server: ServerProcess, site: Path, kind: str, edits: int) -> list[float]:
    """Apply ``edits`` edits of one kind; the write-to-new-response latency of each, in seconds."""
    edit = EDITS[kind]
    path = site / edit.file
    original = path.read_text()
    assert edit.old in original, f"{edit.old!r} not in {edit.file}"
    url = server.url + PAGE
    poll_until(url, lambda body: edit.original in body, CHANGE_TIMEOUT_S)
    latencies = []
    for number in range(edits):
        time.sleep(PAUSE_S)  # pacing between edits; nothing is measured across it
        text = original.replace(edit.old, edit.new(number))
        started = time.perf_counter()
        path.write_text(text)
        marker = edit.shown(number)
        seen = poll_until(url, lambda body, m=marker: m in body, CHANGE_TIMEOUT_S)
        latencies.append(seen - started)
    # Paced too: runserver's new process notes the files' times on its first poll,
    # and misses a write that comes before it.
    time.sleep(PAUSE_S)
    path.write_text(original)
    poll_until(url, lambda body: edit.original in body, CHANGE_TIMEOUT_S)
    return latencies


def _migrated(into: Path) -> Path:
    site = into / "site"
    shutil.copytree(PROJECT, site, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    command = [sys.executable, "manage.py", "migrate", "--verbosity", "0"]
    subprocess.run(command, cwd=site, env=env, check=True, capture_output=True, timeout=300)
    return site


def run(edits: int = 10) -> dict[str, Any]:
    """Measure both servers, both edits; medians and the rest in seconds."""
    results: dict[str, Any] = {"edits": edits}
    with tempfile.TemporaryDirectory(prefix="staticreload-django-") as work:
        site = _migrated(Path(work))
        env = _environment(Path(work))
        serve = [sys.executable, "-m", "staticreload", "serve", "mysite.wsgi:application"]
        with ServerProcess([*serve, "--port", "0"], site, env=env) as server:
            results["staticreload"] = {
                kind: summary(_measure(server, site, kind, edits)) for kind in EDITS
            }
        runserver = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{_free_port()}"]
        with _Runserver(runserver, site, env=env) as server:
            results["runserver"] = {
                kind: summary(_measure(server, site, kind, edits)) for kind in EDITS
            }
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Django project tests/django_project, edit to new response, {results['edits']} edits "
        "each (median / p90):",
        "",
        "| | view edit | model edit |",
        "| --- | --- | --- |",
    ]
    for server in ("staticreload", "runserver"):
        cells = [
            f"{results[server][kind]['median'] * 1000:,.1f} ms / "
            f"{results[server][kind]['p90'] * 1000:,.1f} ms"
            for kind in EDITS
        ]
        lines.append(f"| {server} | {' | '.join(cells)} |")
    for kind in EDITS:
        ratio = results["runserver"][kind]["median"] / results["staticreload"][kind]["median"]
        lines.append(f"\n{kind} edit: runserver is {ratio:,.1f}x slower than staticreload.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--edits", type=int, default=10, help="edits of each kind (default 10)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    results = run(args.edits)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    sys.stdout.write(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
