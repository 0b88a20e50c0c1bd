"""Edit to new response when an edit needs a restart: staticreload's worker swap against Werkzeug's.

Same app (example_wsgi), same edit (the greeting in views/home.py), one
client polling. staticreload serves with ``--restart-on '*/views/home.py'``,
so each edit of that file is applied by a new worker (which trains the model
again) while the old one keeps answering; Werkzeug's stat reloader (what
``flask run --reload`` runs) restarts the whole process on every edit. The
hot reload of the same edit is measured too, for scale.

The contenders run side by side and take turns, edit by edit, so that the
load of a shared machine weighs on each alike. Reported for each: the time
from the write to the first response showing the edit; that time less the
model's training in the new process (the page says how long it took), which
is what the restart itself costs; the polls that got no answer (refused or
cut off); and those that got the old page meanwhile.

    python -m benchmarks.restart                    # 10 edits each, polling back to back
    EDITS=3 INTERVAL_S=0.05 python -m benchmarks.restart    # a client pausing 50 ms
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, ServerProcess, copy_example, get, summary

HOME = Path("example_wsgi/views/home.py")
PAUSE_S = 0.5  # between edits: the replaced worker has stopped; nothing is measured across it
CHANGE_TIMEOUT_S = 120.0
SERVE = [sys.executable, "-m", "staticreload", "serve", "example_wsgi.app:application"]
TRAINED = re.compile(r"took (\d+\.\d+) s to train")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _command(name: str) -> list[str]:
    if name == "werkzeug":
        script = REPO / "benchmarks" / "peers" / "werkzeug_restart.py"
        return [sys.executable, str(script), str(_free_port())]
    command = [*SERVE, "--port", "0"]
    return [*command, "--restart-on", "*/views/home.py"] if name == "restart" else command


class _Contender:
    """One server and what its edits measured."""

    def __init__(self, server: ServerProcess, folder: Path) -> None:
        self.server = server
        self.home = folder / HOME
        self.original = self.home.read_text()
        self.latencies: list[float] = []
        self.overheads: list[float] = []
        self.unanswered = 0
        self.old = 0

    def edit(self, number: int, interval_s: float) -> None:
        """Write one edit and poll until it is served; record it unless ``number`` < 0."""
        marker = f"Edit {number} from"
        url = self.server.url + "/"
        started = time.perf_counter()
        self.home.write_text(self.original.replace("Hello from", marker))
        while True:
            body = get(url)
            if body is not None and body.startswith(marker):
                break
            if time.perf_counter() - started > CHANGE_TIMEOUT_S:
                raise TimeoutError(f"edit {number} not served within {CHANGE_TIMEOUT_S} s")
            if number >= 0:
                self.unanswered += body is None
                self.old += body is not None
            time.sleep(interval_s)  # a client's pace (0: back to back), not a wait for an outcome
        if number < 0:
            return
        latency_s = time.perf_counter() - started
        self.latencies.append(latency_s)
        trained = TRAINED.search(body)
        if trained and latency_s > 1:  # a restart: the new process trained the model
            self.overheads.append(latency_s - float(trained.group(1)))

    def record(self) -> dict[str, Any]:
        return {
            "latency_s": summary(self.latencies),
            "beyond_training_s": summary(self.overheads),
            "samples_s": self.latencies,
            "unanswered_polls": self.unanswered,
            "old_page_polls": self.old,
        }


def run(
    edits: int,
    *,
    interval_s: float = 0.0,
    peers: Sequence[str] = ("restart", "werkzeug", "hot"),
) -> dict[str, Any]:
    """Measure the contenders, each on its own copy of the example app, taking turns.

    Args:
        edits: how many edits each (after one to warm up).
        interval_s: the client's pause between two requests, in seconds (0:
            back to back, as the edit-to-response benchmark polls).
        peers: which contenders: ``"restart"``, ``"werkzeug"``, ``"hot"``.
    """
    results: dict[str, Any] = {"edits": edits, "interval_s": interval_s, "contenders": {}}
    with (
        tempfile.TemporaryDirectory(prefix="staticreload-restart-") as work_name,
        contextlib.ExitStack() as servers,
    ):
        contenders = {}
        for name in peers:
            folder = copy_example(Path(work_name) / name)
            server = servers.enter_context(ServerProcess(_command(name), folder))
            contenders[name] = _Contender(server, folder)
        for number in range(-1, edits):  # edit -1 warms up
            for contender in contenders.values():
                time.sleep(PAUSE_S)  # pacing between edits; nothing is measured across it
                contender.edit(number, interval_s)
        for name, contender in contenders.items():
            results["contenders"][name] = contender.record()
    medians = {
        name: data["latency_s"].get("median") for name, data in results["contenders"].items()
    }
    if medians.get("restart") and medians.get("werkzeug"):
        results["werkzeug_over_restart"] = medians["werkzeug"] / medians["restart"]
    return results


if __name__ == "__main__":
    edits, interval_s = int(os.environ.get("EDITS", "10")), float(os.environ.get("INTERVAL_S", "0"))
    print(json.dumps(run(edits, interval_s=interval_s), indent=2))
