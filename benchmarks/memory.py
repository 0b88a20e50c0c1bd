"""Memory: the resident size of a process after 1,000 reloads of a leaf against after 10.

Old module objects must be collected; the goal is growth under 5 MB. Runs in a
child process so that nothing else the benchmarks loaded is counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CHILD = r"""
import gc, importlib, json, sys
from pathlib import Path
from benchmarks.synthetic import write_layered_package
from staticreload import Reloader

def rss_bytes():
    with open("/proc/self/statm") as statm:
        import os
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

root = Path(sys.argv[1]); total = int(sys.argv[2])
picks = write_layered_package(root, "mem", 60)
sys.path.insert(0, str(root))
reloader = Reloader.from_targets("mem", root=root)
reloader.install()
for module in reloader.map.modules:
    importlib.import_module(module)
leaf = reloader.map.path_of(picks["leaf"])
original = leaf.read_text()
marks = {}
for number in range(1, total + 1):
    leaf.write_text(original + f"\nEDIT = {number}\n")
    assert reloader.reload_paths([leaf]).ok
    if number in (10, total):
        gc.collect()
        marks[number] = rss_bytes()
print(json.dumps(marks))
"""


def run(reloads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="staticreload-memory-") as folder:
        result = subprocess.run(
            [sys.executable, "-c", CHILD, folder, str(reloads)],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
            cwd=Path(__file__).resolve().parents[1],
        )
    marks = {int(k): v for k, v in json.loads(result.stdout).items()}
    growth = marks[reloads] - marks[10]
    return {
        "reloads": reloads,
        "rss_after_10_bytes": marks[10],
        f"rss_after_{reloads}_bytes": marks[reloads],
        "growth_mb": growth / 2**20,
        "within_goal": growth < 5 * 2**20,
    }
