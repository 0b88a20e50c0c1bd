"""After every edit, every module the hot process has loaded equals a cold import of the same files.

Random packages (see generated.py, with the import shapes real packages use)
get random edit sequences applied through ``Reloader.reload_paths``, each
edit's file events in one batch. After each step a fresh subprocess imports
the same files; the state of every loaded module must be equal (``VALUE``,
the kind of object bound to each public name, ``__all__``, and what
``handle()`` and ``probe()`` return when called, as a request would: see
``module_states`` in conftest.py), and a reload must fail exactly when the
cold import fails (then the hot process keeps the last good modules). A
failure prints the shrunk edit sequence.

``STATICRELOAD_RELIABILITY_SHAPES=reexport,chains`` limits the generated
shapes (default: all of ``generated.SHAPES``), to chase one kind of
divergence at a time.
"""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from staticreload import Reloader
from tests.reliability.conftest import (
    EDIT_KINDS,
    LONG,
    NOTES,
    STATS,
    cold_states,
    differences,
    hot_states,
)
from tests.reliability.generated import SHAPES, Edit, Project, apply, edits, projects

NOTES_SEEN: set[str] = set()

EXAMPLES = int(os.environ.get("STATICRELOAD_RELIABILITY_EXAMPLES", 1000 if LONG else 25))
MAX_STEPS = 12 if LONG else 6
_shapes_env = os.environ.get("STATICRELOAD_RELIABILITY_SHAPES", "")
CHOSEN_SHAPES = frozenset(filter(None, _shapes_env.split(","))) if _shapes_env else SHAPES
_names = (f"gen{number}" for number in itertools.count())


def make_reloader(project: Project, root: Path) -> Reloader:
    """The one place this file builds a ``Reloader``."""
    return Reloader.from_targets(*project.targets(root), root=root)


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
    project: Project = data.draw(
        projects(package, max_modules=60 if LONG else 30, shapes=CHOSEN_SHAPES)
    )
    saved_path, saved_modules = list(sys.path), dict(sys.modules)
    with tempfile.TemporaryDirectory(prefix="staticreload-diff-") as folder:
        root = Path(folder)
        project.write(root)
        sys.path.insert(0, str(root))
        importlib.invalidate_caches()
        reloader = make_reloader(project, root)
        reloader.install()
        try:
            try:
                importlib.import_module(f"{package}.entry")
            except Exception:
                STATS["generated packages that cannot start (skipped)"] += 1
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
    note(f"edit: {edit}")
    last_good = hot_states(project.tops)  # also the requests served before the edit
    apply(project, edit)
    result = reloader.reload_paths(project.write(root, save=edit.save))
    STATS["edits applied"] += 1
    EDIT_KINDS[edit.kind if edit.save == "write" else f"{edit.kind} (saved by {edit.save})"] += 1
    hot = hot_states(project.tops)
    cold = cold_states(root, f"{project.package}.entry", sorted(hot))
    note(
        f"reload ok={result.ok} error={result.error}; cold ok={cold['ok']} {cold.get('error', '')}"
    )
    if result.ok and not cold["ok"] and "circular import" in cold["error"]:
        # The edit changed the order in which a fresh process enters an import
        # cycle among modules outside the closure; a closure reload does not
        # replay it, so a restart fails where the hot process keeps working (a
        # known limit of closure reloading; see the README). Counted, not hidden.
        STATS["circular imports a restart would hit, the hot process not"] += 1
        message = cold["error"].replace(project.package, "<package>")
        if message not in NOTES_SEEN:
            NOTES_SEEN.add(message)
            NOTES.append(f"- a circular import only a restart hits, e.g.: {message}")
        return
    assert result.ok == cold["ok"], "the reload and a cold start disagree on success"
    if result.ok:
        STATS["states compared"] += len(hot)
        differing = differences(hot, cold["states"])
        assert not differing, f"hot and cold modules differ: {differing}"
    else:
        changed = differences(hot, last_good)
        assert not changed, f"a failed reload did not leave the last good modules: {changed}"
        STATS["broken edits survived"] += 1
