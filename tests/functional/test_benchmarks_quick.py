"""The benchmark suite's --quick mode runs end to end (a smoke test: no thresholds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_quick_benchmarks_write_their_records(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--output", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    record = json.loads((tmp_path / "results.json").read_text())
    contenders = record["edit_to_response"]["contenders"]
    assert contenders["staticreload"]["latency_s"]["n"] == 3
    assert contenders["werkzeug"]["latency_s"]["n"] == 3
    assert set(record["reload_overhead"]["edits"]) == {"leaf", "middle", "root"}
    assert record["memory"]["reloads"] == 100
    assert "## Edit to new response" in (tmp_path / "results.md").read_text()
