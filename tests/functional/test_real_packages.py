"""Hot reload equals a cold import on real packages, module by module.

Each package is copied from site-packages into ``tmp_path``, so edits never
touch the installed one. A fresh process imports every module of the copy
(cold); another fresh process installs a ``Reloader`` for the copy, imports
the same modules, then appends a comment line to one module after another and
reloads it (``tests/realpackages.py`` does both). Right after the import and
after every reload, every loaded module of the package must hold the public
names, and the kinds of values (module, function, class or the type's name),
that the cold import gave. CI edits a fixed sample of modules per package;
``STATICRELOAD_RELIABILITY=long`` edits every module. The summary table
prints at the end (``pytest -s``) and, with ``STATICRELOAD_RELIABILITY_SUMMARY``
set, is appended to that file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

LONG = os.environ.get("STATICRELOAD_RELIABILITY") == "long"
SUMMARY_ENV = "STATICRELOAD_RELIABILITY_SUMMARY"
SAMPLE = 15  # modules edited per package in CI
SEED = 20240611

# Case id -> (package, setup: see tests/realpackages.py prepare()). Pure-Python
# packages of the test extra (attrs is imported as ``attr``), in order of cost.
# Django twice: as a project runs it (settings, then ``django.setup()``, which
# fills the app registry that a reload of ``django.apps.registry`` empties) and
# with settings only (models then fail cold and are skipped), which reaches the
# import machinery of the modules the registry failure cuts short.
# networkx is left out: staticreload imports it, so its copy would load before
# the reloader is installed, and reloading it would reload the reloader's graphs.
CASES: dict[str, tuple[str, str]] = {
    "django": ("django", "django"),
    "django-settings-only": ("django", "django-settings"),
    "sqlalchemy": ("sqlalchemy", "none"),
    "docutils": ("docutils", "none"),
    "markdown_it": ("markdown_it", "none"),
    "jinja2": ("jinja2", "none"),
    "flask": ("flask", "none"),
    "click": ("click", "none"),
    "requests": ("requests", "none"),
    "attr": ("attr", "none"),
}
HELPER = Path(__file__).resolve().parents[1] / "realpackages.py"
HELPER_TIMEOUT_S = 3600.0 if LONG else 300.0

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the hot process forks")


@dataclass
class CaseReport:
    """What the cold and hot processes did with one case (a package and its setup)."""

    case: str
    package: str
    modules: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    edited: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None  # the harness failed: the package was not checked
    missing: bool = False  # not installed

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [step for step in self.steps if not step["ok"] or step.get("differences")]

    @property
    def closures(self) -> list[int]:
        """The closure sizes of the successful reloads."""
        return [step["closure"] for step in self.steps if step["ok"] and "closure" in step]

    def failure_groups(self) -> dict[str, list[dict[str, Any]]]:
        """One line per distinct failure -> the failed steps (edits) that hit it."""
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for step in self.failures:
            groups[describe(step)].append(step)
        return dict(sorted(groups.items(), key=lambda item: -len(item[1])))


def describe(step: dict[str, Any]) -> str:
    """A failed step in one line, without its temporary paths."""
    if not step["ok"]:
        text = step.get("error", "?").splitlines()[0]
        return " ".join(word for word in text.split() if not word.startswith(("/", "(/")))
    parts = []
    for module, difference in step["differences"].items():
        if isinstance(difference, str):
            parts.append(f"{module}: {difference}")
            continue
        details = []
        for key in ("only hot", "only cold"):
            if key in difference:
                details.append(f"{key} {_some(difference[key])}")
        if "kinds" in difference:
            kinds = [f"{name} ({kind})" for name, kind in difference["kinds"].items()]
            details.append(f"kinds {_some(kinds)}")
        if "__all__" in difference:
            details.append("__all__ differs")
        parts.append(f"{module}: {'; '.join(details)}")
    return "hot != cold: " + " | ".join(parts)


def edited(steps: list[dict[str, Any]]) -> list[str]:
    """The modules whose edit the steps were; the import is the step of no module."""
    return [step["module"] or "(initial import)" for step in steps]


def _some(items: list[str], shown: int = 3) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def run_helper(mode: str, root: Path, package: str, out: Path, *options: str) -> dict[str, Any]:
    """Run ``tests/realpackages.py`` in a fresh process and return what it wrote.

    Raises:
        RuntimeError: the process failed or timed out.
    """
    command = [sys.executable, str(HELPER), mode, str(root), package, str(out), *options]
    try:
        done = subprocess.run(
            command,
            cwd=root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=HELPER_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"{mode} run of {package} timed out after {error.timeout} s") from error
    if done.returncode != 0:
        raise RuntimeError(f"{mode} run of {package} exited {done.returncode}:\n{done.stderr}")
    loaded: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return loaded


def check_case(case: str, workdir: Path) -> CaseReport:
    """Copy the package, import it cold, then hot with edits; never raises."""
    package, setup = CASES[case]
    report = CaseReport(case, package)
    started = time.perf_counter()
    spec = importlib.util.find_spec(package)  # finds a top-level package without importing it
    if spec is None or not spec.submodule_search_locations:
        report.missing = True
        return report
    root = workdir / case
    try:
        source = Path(next(iter(spec.submodule_search_locations)))
        # As installed, bytecode included (copytree keeps the mtimes that validate it):
        # neither process compiles what pip compiled already.
        shutil.copytree(source, root / package)
        cold_file = workdir / f"{case}.cold.json"
        cold = run_helper("cold", root, package, cold_file, "--setup", setup)
        report.modules = len(cold["modules"])
        report.skipped = cold["skipped"]
        loaded = [name for name in cold["modules"] if name not in cold["skipped"]]
        if LONG:
            report.edited = loaded
        else:
            report.edited = sorted(random.Random(SEED).sample(loaded, min(SAMPLE, len(loaded))))
        hot = run_helper(
            "hot",
            root,
            package,
            workdir / f"{case}.hot.json",
            "--setup",
            setup,
            "--cold",
            str(cold_file),
            "--edits",
            *report.edited,
        )
        report.steps = hot["steps"]
    except (OSError, RuntimeError, ValueError) as error:
        report.error = str(error)
    report.seconds = time.perf_counter() - started
    return report


def summary(reports: dict[str, CaseReport], seconds: float) -> str:
    """The markdown table of a run, then its failures grouped per case."""
    mode = "long (every module)" if LONG else f"bounded ({SAMPLE} modules per package, seed {SEED})"
    lines = [
        "## Real packages: hot reload against a cold import",
        "",
        f"Mode: {mode}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {seconds:.1f} s.",
        "",
        "| case | modules | skipped cold | edited | failed | mean closure | max closure | s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case, report in reports.items():
        if report.missing:
            lines.append(f"| {case} | not installed | | | | | | |")
            continue
        closures = report.closures
        mean = f"{sum(closures) / len(closures):.1f}" if closures else "-"
        failed = "harness error" if report.error else str(len(report.failures))
        lines.append(
            f"| {case} | {report.modules} | {len(report.skipped)} | {len(report.edited)} "
            f"| {failed} | {mean} | {max(closures, default=0)} | {report.seconds:.1f} |"
        )
    lines.append("")
    for case, report in reports.items():
        if report.error:
            lines.append(f"- {case}: harness error: {report.error.splitlines()[0]}")
        for text, steps in report.failure_groups().items():
            lines.append(f"- {case} [{len(steps)}x, e.g. {_some(edited(steps), 2)}]: {text}")
    return "\n".join(lines) + "\n"


def selected_cases(session: pytest.Session) -> list[str]:
    """The cases whose test this session runs (all, or those picked with ``-k``)."""
    chosen = {
        item.callspec.params["case"]
        for item in session.items
        if isinstance(item, pytest.Function)
        and item.originalname == "test_hot_reload_equals_cold_import"
    }
    return [case for case in CASES if case in chosen]


@pytest.fixture(scope="module")
def reports(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, CaseReport]]:
    """Check every selected case, one per core (each check is two processes in a row)."""
    workdir = tmp_path_factory.mktemp("realpackages")
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        futures = {
            case: pool.submit(check_case, case, workdir) for case in selected_cases(request.session)
        }
        done = {case: future.result() for case, future in futures.items()}
    table = summary(done, time.perf_counter() - started)
    target = os.environ.get(SUMMARY_ENV)
    if target:
        # At unconfigure, after every sessionfinish hook (the reliability suite's
        # rewrites the file there), so the table is never overwritten.
        request.config.add_cleanup(lambda: _append(Path(target), table))
    yield done
    print("\n" + table)


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write("\n" + text)


# Divergences that are limits of reloading a closure, not bugs, each with the
# reason (README, "Known limitations"). A failure of any other kind fails.
KNOWN_LIMITS: dict[str, list[tuple[str, str]]] = {
    "sqlalchemy": [
        (
            r"sqlalchemy\.sql\.annotation: only hot Annotated",
            "a module body that reads what else is loaded (Base.__subclasses__()) "
            "sees, when it runs again, classes a cold start had not loaded yet",
        ),
        (
            r"SQL expression element or literal value expected",
            "an object created before the reload by a module outside the closure "
            "fails the new code's isinstance checks (old class)",
        ),
    ],
}


@pytest.mark.timeout(0 if LONG else 240)  # 0: none; the fixture checks every case
@pytest.mark.parametrize("case", CASES)
def test_hot_reload_equals_cold_import(case: str, reports: dict[str, CaseReport]) -> None:
    report = reports[case]
    if report.missing:
        pytest.skip(f"{report.package} is not installed")
    assert report.error is None, report.error
    groups = {
        text: steps
        for text, steps in report.failure_groups().items()
        if not any(re.search(pattern, text) for pattern, _ in KNOWN_LIMITS.get(case, ()))
    }
    lines = [
        f"{case}: {len(report.failures)} of {len(report.edited)} reloads (or the import) "
        "differ from a cold import:"
    ]
    for text, steps in groups.items():
        lines.append(f"[{len(steps)}x: {_some(edited(steps), 5)}] {text}")
        if "traceback" in steps[0]:  # the first one's, where it failed
            lines.append(textwrap.indent(steps[0]["traceback"][-1500:], "    "))
    if groups:
        pytest.fail("\n".join(lines), pytrace=False)
