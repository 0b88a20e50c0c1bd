"""Reliability suite settings, and the hot-versus-cold oracle the differential tests share.

Bounded in CI, long with STATICRELOAD_RELIABILITY=long. With
STATICRELOAD_RELIABILITY_SUMMARY=FILE the session writes a markdown summary of
what it tried to FILE.

The oracle: :func:`module_states` describes modules (``VALUE``, the kind of
object bound to each public name, ``__all__``, and what their ``handle()`` /
``probe()`` functions return); :func:`hot_states` runs it in this process and
:func:`cold_states` in a fresh one that imports the same files.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

LONG = os.environ.get("STATICRELOAD_RELIABILITY") == "long"
STATS: Counter[str] = Counter()
EDIT_KINDS: Counter[str] = Counter()  # edits applied, by kind and save method
NOTES: list[str] = []


def module_states(names: list[str]) -> dict[str, Any]:
    """The state of each module in ``names`` (all loaded), JSON-serialisable.

    Self-contained: its source is also run in the cold process. A module's
    state is its ``VALUE``, the kind of each public name (``module NAME``, with
    ``(stale)`` when it is not the module ``sys.modules`` holds under that
    name, ``class``, ``function`` or ``value TYPE``), its ``__all__`` sorted,
    and the result of calling its ``handle()`` and ``probe()`` functions (or
    the name of the exception they raised).
    """
    import sys
    import types

    def kind(value: object) -> str:
        if isinstance(value, types.ModuleType):
            stale = "" if sys.modules.get(value.__name__) is value else " (stale)"
            return f"module {value.__name__}{stale}"
        if isinstance(value, type):
            return "class"
        if callable(value):
            return "function"
        return f"value {type(value).__name__}"

    def call(function: object) -> str:
        try:
            return repr(function())  # type: ignore[operator]
        except Exception as error:
            return f"raised {type(error).__name__}"

    modules = {name: sys.modules[name] for name in sorted(names)}
    calls = {
        name: {
            attribute: call(function)
            for attribute in ("handle", "probe")
            if isinstance(function := vars(module).get(attribute), types.FunctionType)
        }
        for name, module in modules.items()
    }
    states = {}
    for name, module in modules.items():
        namespace = vars(module)
        exported = namespace.get("__all__")
        states[name] = {
            "VALUE": repr(namespace.get("VALUE")),
            "kinds": {k: kind(v) for k, v in sorted(namespace.items()) if not k.startswith("_")},
            "__all__": sorted(map(str, exported)) if isinstance(exported, list | tuple) else None,
            "calls": calls[name],
        }
    return states


def loaded(tops: Iterable[str]) -> list[str]:
    """The loaded modules at or under the top-level names ``tops``, sorted."""
    prefixes = tuple(f"{top}." for top in tops)
    return sorted(n for n in list(sys.modules) if n in tops or n.startswith(prefixes))


def hot_states(tops: Iterable[str]) -> dict[str, Any]:
    """The states of this process's modules under ``tops``, after a first round of calls.

    The first round is the requests a running program serves: a ``handle()``
    that imports at request time loads its modules then, so that both
    processes describe the same modules.
    """
    tops = tuple(tops)
    module_states(loaded(tops))
    return module_states(loaded(tops))


_COLD = (
    "from __future__ import annotations\nfrom typing import Any\n"
    + inspect.getsource(module_states)
    + r"""
import importlib, json, sys
root, entry, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, root)
missing = []
try:
    importlib.import_module(entry)
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is None or not (name + ".").startswith(error.name + "."):
                raise
            missing.append(name)  # the hot process has it loaded; its file is gone
except BaseException as error:
    print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}))
else:
    states = module_states([name for name in names if name not in missing])
    states.update(dict.fromkeys(missing, "no such module"))
    print(json.dumps({"ok": True, "states": states}))
"""
)


def cold_states(root: Path, entry: str, names: list[str]) -> dict[str, Any]:
    """A fresh process imports ``entry``, then ``names``; their states, or its error.

    A module in ``names`` that cannot be found (its file is gone, but the hot
    process still has it) has the state ``"no such module"``.

    Returns:
        ``{"ok": True, "states": {...}}`` or ``{"ok": False, "error": "Type: message"}``.
    """
    result = subprocess.run(
        [sys.executable, "-B", "-c", _COLD, str(root), entry, json.dumps(names)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    cold: dict[str, Any] = json.loads(result.stdout)
    return cold


def differences(hot: dict[str, Any], cold: dict[str, Any]) -> dict[str, Any]:
    """Per module, the parts of the state where hot and cold differ: ``{part: (hot, cold)}``.

    A module only one side has differs in its part ``"module"``.
    """
    found: dict[str, Any] = {}
    for name in sorted(set(hot) | set(cold)):
        state, other = hot.get(name, "not loaded"), cold.get(name, "not loaded")
        if not isinstance(state, dict) or not isinstance(other, dict):
            if state != other:
                found[name] = {"module": tuple(_summary(s) for s in (state, other))}
            continue
        parts = {k: (v, other.get(k)) for k, v in state.items() if other.get(k) != v}
        if "kinds" in parts:
            parts["kinds"] = _dict_differences(*parts["kinds"])
        if parts:
            found[name] = parts
    return found


def _summary(state: object) -> object:
    return "loaded" if isinstance(state, dict) else state


def _dict_differences(hot: dict[str, str], cold: dict[str, str]) -> dict[str, tuple[Any, Any]]:
    keys = sorted(set(hot) | set(cold))
    return {k: (hot.get(k), cold.get(k)) for k in keys if hot.get(k) != cold.get(k)}


def pytest_sessionstart(session: pytest.Session) -> None:
    STATS["started"] = int(time.time())


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "reliability" in report.nodeid:
        STATS["tests passed" if report.passed else "tests failed"] += 1
        if report.failed:
            NOTES.append(f"- FAILED {report.nodeid}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("STATICRELOAD_RELIABILITY_SUMMARY")
    if not target or not STATS.get("tests passed", 0) + STATS.get("tests failed", 0):
        return
    minutes = (time.time() - STATS.pop("started")) / 60
    STATS["tests failed"] += 0  # shown even when it is zero
    STATS["edits applied"] += 0
    STATS["states compared"] += 0
    lines = [
        "# Reliability run",
        "",
        f"Mode: {'long' if LONG else 'bounded'}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {minutes:.1f} minutes.",
        "",
        "| what | count |",
        "| --- | --- |",
        *[f"| {key} | {value} |" for key, value in sorted(STATS.items())],
        "",
    ]
    if EDIT_KINDS:
        lines += [
            "Differential edits applied, by kind (and save method):",
            "",
            "| edit | count |",
            "| --- | --- |",
            *[f"| {key} | {value} |" for key, value in sorted(EDIT_KINDS.items())],
            "",
        ]
    lines += [*NOTES, ""]
    Path(target).write_text("\n".join(lines))
