"""After every edit, every module the hot process has loaded equals a cold import of the same files.

Random packages (see generated.py) get random edit sequences applied through
``Reloader.reload_paths``. After each step a fresh subprocess imports the
same files; the ``VALUE`` and public names of every loaded module must be
equal, and a reload must fail exactly when the cold import fails (then the
hot process keeps the last good modules). A failure prints the shrunk edit
sequence.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from staticreload import Reloader
from tests.reliability.conftest import LONG, NOTES, STATS
from tests.reliability.generated import Edit, Project, apply, edits, projects

NOTES_SEEN: set[str] = set()

EXAMPLES = int(os.environ.get("STATICRELOAD_RELIABILITY_EXAMPLES", 1000 if LONG else 25))
MAX_STEPS = 12 if LONG else 6
_names = (f"gen{number}" for number in itertools.count())

COLD = r"""
import importlib, json, sys
root, package, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, root)
def state(module):
    names = sorted(k for k in vars(module) if not k.startswith("_"))
    return [getattr(module, "VALUE", None), names]
try:
    importlib.import_module(package + ".entry")
    for name in names:
        importlib.import_module(name)
except BaseException as error:
    print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}))
else:
    print(json.dumps({"ok": True, "states": {n: state(sys.modules[n]) for n in names}}))
"""


def hot_state(package: str) -> dict[str, Any]:
    return {
        name: [
            getattr(module, "VALUE", None),
            sorted(k for k in vars(module) if not k.startswith("_")),
        ]
        for name, module in sorted(sys.modules.items())
        if name == package or name.startswith(package + ".")
    }


def cold_state(root: Path, package: str, names: list[str]) -> dict[str, Any]:
    """A fresh process's states of ``names``, after importing the entry."""
    result = subprocess.run(
        [sys.executable, "-B", "-c", COLD, str(root), package, json.dumps(names)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


@pytest.mark.timeout(0 if LONG else 900)  # 0: none; a long run takes many minutes
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(data=st.data())
def test_hot_reload_equals_cold_start(data: st.DataObject) -> None:
    package = next(_names)
    project: Project = data.draw(projects(package, max_modules=60 if LONG else 30))
    saved_path, saved_modules = list(sys.path), dict(sys.modules)
    with tempfile.TemporaryDirectory(prefix="staticreload-diff-") as folder:
        root = Path(folder)
        project.write(root)
        sys.path.insert(0, str(root))
        reloader = Reloader(package, root=root)
        reloader.install()
        try:
            try:
                importlib.import_module(f"{package}.entry")
            except Exception:
                assume(False)  # a generated cycle that cannot even start: not a reload case
            STATS["generated packages"] += 1
            steps = data.draw(st.integers(1, MAX_STEPS))
            for _ in range(steps):
                _step(data, project, root, reloader)
        finally:
            reloader.uninstall()
            sys.path[:] = saved_path
            for name in set(sys.modules) - set(saved_modules):
                del sys.modules[name]


def _step(data: st.DataObject, project: Project, root: Path, reloader: Reloader) -> None:
    edit = data.draw(edits(project))
    _apply_and_compare(edit, project, root, reloader)
    if edit.kind in ("syntax_error", "import_error"):  # and then fix it
        _apply_and_compare(Edit("fix", edit.module), project, root, reloader)


def _apply_and_compare(edit: Edit, project: Project, root: Path, reloader: Reloader) -> None:
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*.py")}
    note(f"edit: {edit}")
    apply(project, edit)
    project.write(root)
    after = {p.relative_to(root): p.read_bytes() for p in root.rglob("*.py")}
    changed = [
        root / path for path in set(before) | set(after) if before.get(path) != after.get(path)
    ]
    package = project.package
    last_good = hot_state(package)
    result = reloader.reload_paths(changed)
    STATS["edits applied"] += 1
    hot = hot_state(package)
    cold = cold_state(root, package, sorted(hot))
    note(
        f"reload ok={result.ok} error={result.error}; cold ok={cold['ok']} {cold.get('error', '')}"
    )
    if result.ok and not cold["ok"] and "circular import" in cold["error"]:
        # The edit changed the order in which a fresh process enters an import
        # cycle among modules outside the closure; a closure reload does not
        # replay it, so a restart fails where the hot process keeps working (a
        # known limit of closure reloading; see the README). Counted, not hidden.
        STATS["circular imports a restart would hit, the hot process not"] += 1
        message = cold["error"].replace(package, "<package>")
        if message not in NOTES_SEEN:
            NOTES_SEEN.add(message)
            NOTES.append(f"- a circular import only a restart hits, e.g.: {message}")
        return
    assert result.ok == cold["ok"], "the reload and a cold start disagree on success"
    if result.ok:
        STATS["states compared"] += len(hot)
        differing = {
            name: (hot[name], cold["states"][name])
            for name in hot
            if hot[name] != cold["states"][name]
        }
        assert not differing, f"hot and cold modules differ: {differing}"
    else:
        assert hot == last_good, "a failed reload did not leave the last good modules"
        STATS["broken edits survived"] += 1
