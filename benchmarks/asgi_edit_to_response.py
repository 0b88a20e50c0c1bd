"""ASGI edit to new response: staticreload under uvicorn against uvicorn --reload and uvicorn-hmr.

Same app (``tests/asgi_app``: FastAPI, routers in their own modules, a
dependency, pydantic schemas, SQLModel on SQLite, a lifespan that loads a
"model" for 0.5 s), same edit (the greeting in ``routers/greet.py``), same
machine, one run. One client polls back to back; the figure is the time from
the write to the first response that shows the edit. The lifespan appends a
line to a file at each start: the runs per edit are counted from it.

    python -m benchmarks.asgi_edit_to_response                  # 20 edits, every contender
    python -m benchmarks.asgi_edit_to_response --edits 3 --peers staticreload
    python -m benchmarks.asgi_edit_to_response --hmr-venv /tmp/hmrvenv   # reuse a venv

uvicorn-hmr needs Python 3.12 or newer: the benchmark makes a virtual
environment with it (or uses ``--hmr-venv``), and says so when it cannot. The
same environment also runs ``uvicorn --reload`` with watchfiles, uvicorn's
fastest reloader, besides the one this interpreter has.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks.common import REPO, get, poll_until, python_for, summary

APP = REPO / "tests" / "asgi_app"
GREET = Path("asgi_app/routers/greet.py")
ORIGINAL = '{word}, {name}!"'
RESULTS = REPO / "benchmarks" / "results"
MODEL_LOAD_S = 0.5  # the lifespan's "model": what every restart pays again
PAUSE_S = 0.3  # between edits: longer than any debounce window, so each edit stands alone
START_TIMEOUT_S = 120.0
CHANGE_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
PEERS = ("staticreload", "uvicorn --reload", "uvicorn --reload (watchfiles)", "uvicorn-hmr")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Server:
    """A server subprocess in its own session, ready once ``/health`` answers."""

    def __init__(self, command: Sequence[str], folder: Path, port: int, env: dict[str, str]):
        self.command = list(command)
        self.folder = folder
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.output = folder / "server.log"

    def __enter__(self) -> _Server:
        with self.output.open("w") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.folder,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            poll_until(self.url + "/health", lambda body: "model" in body, START_TIMEOUT_S)
        except TimeoutError:
            self.stop()
            raise RuntimeError(
                f"{self.command} did not start:\n{self.output.read_text()}"
            ) from None
        return self

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
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT_S)


def _measure(server: _Server, folder: Path, edits: int) -> tuple[list[float], int]:
    """Apply ``edits`` route edits.

    Returns:
        The write-to-new-response latency of each, in seconds, and how many
        times the lifespan started up to the last edit's response (the first
        start included).
    """
    greet = folder / GREET
    original = greet.read_text()
    url = server.url + "/greet/ada"
    latencies = []
    for number in range(edits):
        marker = f"edit {number}"
        text = original.replace(ORIGINAL, f'{{word}}, {{name}}! {marker}"')
        time.sleep(PAUSE_S)  # pacing between edits; nothing is measured across it
        started = time.perf_counter()
        greet.write_text(text)
        seen = poll_until(url, lambda body, m=marker: m in body, CHANGE_TIMEOUT_S)
        latencies.append(seen - started)
    starts = _lifespan_starts(folder)
    greet.write_text(original)
    poll_until(url, lambda body: "edit" not in body, CHANGE_TIMEOUT_S)
    return latencies, starts


def _lifespan_starts(folder: Path) -> int:
    log = folder / "lifespan.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return sum(line.startswith("start") for line in lines)


def _commands(
    name: str, folder: Path, port: int, hmr_venv: Path | None
) -> tuple[list[str], dict[str, str]] | str:
    """The command and environment for a contender, or why it cannot run."""
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "ASGI_APP_DB": str(folder / "app.sqlite3"),
        "ASGI_APP_LIFESPAN_LOG": str(folder / "lifespan.log"),
        "ASGI_APP_MODEL_LOAD_S": str(MODEL_LOAD_S),
    }
    uvicorn = ["asgi_app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    reload = [*uvicorn, "--reload", "--reload-dir", "asgi_app", "--log-level", "warning"]
    if name == "staticreload":
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        script = REPO / "benchmarks" / "peers" / "asgi_staticreload.py"
        return [sys.executable, str(script), str(port)], env
    if name == "uvicorn --reload":
        return [sys.executable, "-m", "uvicorn", *reload], env
    if hmr_venv is None:
        return "no Python 3.12 environment with uvicorn-hmr (see --hmr-venv)"
    env.pop("PYTHONPATH", None)
    if name == "uvicorn --reload (watchfiles)":
        return [str(hmr_venv / "bin" / "python"), "-m", "uvicorn", *reload], env
    hmr = [str(hmr_venv / "bin" / "uvicorn-hmr"), *uvicorn, "--log-level", "warning"]
    return [*hmr, "--reload-include", str(folder / "asgi_app")], env


def _hmr_venv(work: Path, given: Path | None) -> tuple[Path | None, str]:
    """A Python 3.12+ virtual environment with uvicorn-hmr and the app's packages."""
    if given is not None:
        return (given, "") if (given / "bin" / "uvicorn-hmr").exists() else (None, "no uvicorn-hmr")
    python = python_for("3.12")
    if python is None:
        return None, "no Python 3.12 or newer on this machine (uvicorn-hmr needs one)"
    venv = work / "hmr-venv"
    try:
        subprocess.run(
            [python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
        )
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "uvicorn-hmr", "fastapi",
             "sqlmodel"],
            check=True,
            capture_output=True,
            timeout=900,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"cannot install uvicorn-hmr: {error}"
    return venv, ""


def _reloader_of(name: str) -> str:
    if name == "uvicorn --reload":
        watchfiles = importlib.util.find_spec("watchfiles") is not None
        return "WatchFilesReload" if watchfiles else "StatReload (polls every 0.25 s)"
    return {"uvicorn --reload (watchfiles)": "WatchFilesReload"}.get(name, "")


def _contender(name: str, work: Path, edits: int, hmr_venv: Path | None) -> dict[str, Any]:
    folder = work / name.replace(" ", "_").replace("(", "").replace(")", "")
    shutil.copytree(APP, folder / "asgi_app", ignore=shutil.ignore_patterns("__pycache__"))
    port = _free_port()
    command = _commands(name, folder, port, hmr_venv)
    if isinstance(command, str):
        return {"skipped": command}
    argv, env = command
    with _Server(argv, folder, port, env) as server:
        samples, starts = _measure(server, folder, edits)
        health = get(server.url + "/health")
    return {
        "latency_s": summary(samples),
        "samples_s": samples,
        "lifespan_runs": starts,
        "lifespan_runs_per_edit": (starts - 1) / edits,
        "health_after": health,
        "reloader": _reloader_of(name),
    }


def run(
    edits: int, *, peers: Sequence[str] = PEERS, hmr_venv: Path | None = None
) -> dict[str, Any]:
    """Measure each contender on its own copy of the app; the record, ratios included."""
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "python": sys.version.split()[0],
        "edits": edits,
        "edit": f"{GREET} (a route's response)",
        "model_load_s": MODEL_LOAD_S,
        "contenders": {},
    }
    with tempfile.TemporaryDirectory(prefix="staticreload-asgi-bench-") as work_name:
        work = Path(work_name)
        venv, reason = (None, "")
        if any(name not in ("staticreload", "uvicorn --reload") for name in peers):
            venv, reason = _hmr_venv(work, hmr_venv)
            results["hmr_python"] = reason or _version(venv)
        for name in peers:
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            results["contenders"][name] = _contender(name, work, edits, venv)
    ours = results["contenders"].get("staticreload", {}).get("latency_s", {}).get("median")
    if ours:
        results["ratios"] = {
            f"{name}_over_staticreload": data["latency_s"]["median"] / ours
            for name, data in results["contenders"].items()
            if name != "staticreload" and "latency_s" in data
        }
    return results


def _version(venv: Path | None) -> str:
    if venv is None:
        return ""
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return found.stdout.strip()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def markdown(record: dict[str, Any]) -> str:
    """The results as a short markdown table."""
    lines = [
        f"# ASGI edit to new response ({record['date']})",
        "",
        f"`tests/asgi_app` (FastAPI, SQLModel on SQLite, a lifespan loading a model for "
        f"{record['model_load_s']} s); edit: {record['edit']}; {record['edits']} edits each. "
        f"Python {record['python']} (uvicorn-hmr: Python {record.get('hmr_python') or 'n/a'}), "
        f"{record['machine']['cpus']} CPUs.",
        "",
        "| contender | median | p90 | max | lifespan runs per edit | against staticreload |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    ours = record["contenders"].get("staticreload", {}).get("latency_s", {}).get("median")
    for name, data in record["contenders"].items():
        if "skipped" in data:
            lines.append(f"| {name} | skipped: {data['skipped']} | | | | |")
            continue
        latency = data["latency_s"]
        ratio = (
            f"{latency['median'] / ours:,.0f}x slower" if ours and name != "staticreload" else ""
        )
        label = f"{name}, {data['reloader']}" if data.get("reloader") else name
        lines.append(
            f"| {label} | {_ms(latency['median'])} | {_ms(latency['p90'])} | "
            f"{_ms(latency['max'])} | {data['lifespan_runs_per_edit']:g} | {ratio} |"
        )
    lines += [
        "",
        "Lifespan runs per edit: starts of the lifespan after the first, divided by the edits.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS))
    parser.add_argument("--hmr-venv", type=Path, help="a venv with uvicorn-hmr (Python 3.12+)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for asgi.json, asgi.md")
    args = parser.parse_args(argv)
    record = run(args.edits, peers=args.peers, hmr_venv=args.hmr_venv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "asgi.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.out / "asgi.md").write_text(markdown(record))
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
