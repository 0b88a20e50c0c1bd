"""Reliability suite settings: bounded in CI, long with STATICRELOAD_RELIABILITY=long.

With STATICRELOAD_RELIABILITY_SUMMARY=FILE the session writes a markdown
summary of what it tried to FILE.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest

LONG = os.environ.get("STATICRELOAD_RELIABILITY") == "long"
STATS: Counter[str] = Counter()
NOTES: list[str] = []


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
        *NOTES,
        "",
    ]
    Path(target).write_text("\n".join(lines))
