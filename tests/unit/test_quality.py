"""The linters are part of the test suite, so CI holds the code to them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ["staticreload", "tests", "benchmarks", "example_wsgi"]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"{name} is not installed (install the test extra)")
        return found
    return str(path)


@pytest.mark.timeout(300)
def test_ruff_lint_and_format() -> None:
    sources = [s for s in SOURCES if (REPO / s).exists()]
    lint = run(tool("ruff"), "check", *sources)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatting = run(tool("ruff"), "format", "--check", *sources)
    assert formatting.returncode == 0, formatting.stdout + formatting.stderr


@pytest.mark.timeout(300)
def test_mypy_strict() -> None:
    result = run(tool("mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(300)
def test_layers_contract() -> None:
    result = run(tool("lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
