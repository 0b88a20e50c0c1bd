"""Edit to new response: staticreload against a full restart (Werkzeug) and against hmr.

Same app (example_wsgi), same edit (the greeting in views/home.py), same
machine, one run. One client polls back to back; the figure is the time from
the write to the first response that shows the edit. The physical limit is
the sum of the watcher's event delivery, compiling and executing the
closure's source, and one request.
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    ServerProcess,
    copy_example,
    get,
    poll_until,
    python_for,
    summary,
)

HOME = Path("example_wsgi/views/home.py")
PAUSE_S = 0.3  # between edits: longer than the debounce window, so each edit stands alone
CHANGE_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _measure(server: ServerProcess, folder: Path, edits: int) -> list[float]:
    """Apply ``edits`` edits; the write-to-new-response latency of each, in seconds."""
    home = folder / HOME
    original = home.read_text()
    url = server.url + "/"
    poll_until(url, lambda body: body.startswith("Hello from"), CHANGE_TIMEOUT_S)
    latencies = []
    for number in range(edits):
        marker = f"Edit {number} from"
        text = original.replace("Hello from", marker)
        time.sleep(PAUSE_S)  # pacing between edits; nothing is measured across it
        started = time.perf_counter()
        home.write_text(text)
        seen = poll_until(url, lambda body, m=marker: body.startswith(m), CHANGE_TIMEOUT_S)
        latencies.append(seen - started)
    home.write_text(original)
    return latencies


def _staticreload(folder: Path, edits: int) -> tuple[list[float], dict[str, Any]]:
    """The edits' latencies, then the physical limit measured against the same server."""
    command = [sys.executable, "-m", "staticreload", "serve", "example_wsgi.app:application",
               "--port", "0"]  # fmt: skip
    with ServerProcess(command, folder) as server:
        samples = _measure(server, folder, edits)
        return samples, physical_limit(folder, server.url + "/", max(edits, 10))


def _werkzeug(folder: Path, edits: int) -> list[float]:
    port = _free_port()
    script = REPO / "benchmarks" / "peers" / "werkzeug_restart.py"
    with ServerProcess([sys.executable, str(script), str(port)], folder) as server:
        return _measure(server, folder, edits)


def _hmr_python(work: Path) -> tuple[str | None, str]:
    """A virtual environment with hmr on Python 3.12+, or None and why not."""
    python = python_for("3.12")
    if python is None:
        return None, "no Python 3.12 or newer on this machine (hmr needs one)"
    venv = work / "hmr-venv"
    try:
        subprocess.run(
            [python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
        )
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "hmr"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"cannot install hmr: {error}"
    return str(venv / "bin" / "hmr"), ""


def _hmr(folder: Path, edits: int, hmr: str) -> list[float]:
    port = _free_port()
    entry = REPO / "benchmarks" / "peers" / "hmr_entry.py"
    local_entry = folder / "hmr_entry.py"
    local_entry.write_text(entry.read_text())
    with ServerProcess([hmr, str(local_entry)], folder, env={"PORT": str(port)}) as server:
        return _measure(server, folder, edits)


def physical_limit(folder: Path, url: str, repeat: int) -> dict[str, Any]:
    """The floor: event delivery + compile and execute the closure's source + one request."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    delivered = threading.Event()

    class Handler(FileSystemEventHandler):
        def on_closed(self, event: object) -> None:
            delivered.set()

    watched = folder / "watch-probe"
    watched.mkdir(exist_ok=True)
    observer = Observer()
    observer.schedule(Handler(), str(watched), recursive=True)
    observer.start()
    delivery = []
    try:
        for number in range(repeat):
            delivered.clear()
            started = time.perf_counter()
            (watched / "probe.py").write_text(f"X = {number}\n")
            if delivered.wait(5):
                delivery.append(time.perf_counter() - started)
    finally:
        observer.stop()
        observer.join()

    sys.path.insert(0, str(folder))
    try:
        import example_wsgi.app  # noqa: F401  (loads the model once, outside the timing)

        sources = [(folder / HOME), (folder / "example_wsgi" / "app.py")]
        names = ["example_wsgi.views.home", "example_wsgi.app"]
        execute = []
        for _ in range(repeat):
            started = time.perf_counter()
            for path, name in zip(sources, names, strict=True):
                code = compile(path.read_bytes(), str(path), "exec")
                exec(code, {"__name__": name, "__file__": str(path)})
            execute.append(time.perf_counter() - started)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n.split(".")[0] == "example_wsgi"]:
            del sys.modules[name]  # the model's objects would slow every later GC pass
        gc.collect()

    request = []
    for _ in range(repeat):
        started = time.perf_counter()
        get(url)
        request.append(time.perf_counter() - started)
    parts = {
        "event_delivery": summary(delivery),
        "compile_and_execute": summary(execute),
        "request": summary(request),
    }
    parts["total_median"] = sum(float(p["median"]) for p in parts.values())
    return parts


def run(
    edits: int, *, peers: Sequence[str] = ("staticreload", "werkzeug", "hmr")
) -> dict[str, Any]:
    """Measure each contender on its own copy of the example app."""
    results: dict[str, Any] = {"edits": edits, "contenders": {}}
    with tempfile.TemporaryDirectory(prefix="staticreload-bench-") as work_name:
        work = Path(work_name)
        for name in peers:
            folder = copy_example(work / name)
            if name == "staticreload":
                samples, results["physical_limit"] = _staticreload(folder, edits)
            elif name == "werkzeug":
                samples = _werkzeug(folder, edits)
            else:
                hmr, reason = _hmr_python(work)
                if hmr is None:
                    results["contenders"]["hmr"] = {"skipped": reason}
                    continue
                samples = _hmr(folder, edits, hmr)
            results["contenders"][name] = {"latency_s": summary(samples), "samples_s": samples}
    _ratios(results)
    return results


def _ratios(results: dict[str, Any]) -> None:
    contenders = results["contenders"]
    ours = contenders.get("staticreload", {}).get("latency_s", {}).get("median")
    if not ours:
        return
    ratios = {}
    for name, data in contenders.items():
        median = data.get("latency_s", {}).get("median")
        if name != "staticreload" and median:
            ratios[f"{name}_over_staticreload"] = median / ours
    limit = results.get("physical_limit", {}).get("total_median")
    if limit:
        ratios["staticreload_over_physical_limit"] = ours / limit
    results["ratios"] = ratios


if __name__ == "__main__":
    import json

    print(json.dumps(run(int(os.environ.get("EDITS", "5"))), indent=2))
