"""Run staticreload's benchmarks and write the results.

    python -m benchmarks.run            # the full run, into benchmarks/results/
    python -m benchmarks.run --quick    # a smoke test: small sizes, a temporary folder

Every figure is a median of repeated runs, and every comparison a ratio
taken in the same run: these machines are shared and noisy. Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import edit_to_response, map_scale, memory, reload_overhead
from benchmarks.common import REPO

RESULTS = REPO / "benchmarks" / "results"
PACKAGES = ("staticreload", "grimp", "networkx", "watchdog", "werkzeug", "django", "sympy")


def _versions() -> dict[str, str]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def measure(quick: bool, peers: Sequence[str]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "quick": quick,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "python": sys.version.split()[0],
        "bytecode_files_written": not sys.dont_write_bytecode,
        "packages": _versions(),
    }
    record["edit_to_response"] = edit_to_response.run(3 if quick else 20, peers=peers)
    record["reload_overhead"] = reload_overhead.run(60 if quick else 300, 5 if quick else 30)
    scale: dict[str, Any] = {}
    for package in ("django", "sympy"):
        if map_scale.installed(package):
            scale[package] = map_scale.build_against_grimp(package, 2 if quick else 7)
        else:
            scale[package] = {"skipped": f"{package} is not installed (the bench extra has it)"}
    scale["generated"] = map_scale.generated_project(1000 if quick else 10_000, 3 if quick else 7)
    record["map_scale"] = scale
    record["memory"] = memory.run(100 if quick else 1000)
    return record


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f} ms"


def markdown(record: dict[str, Any]) -> str:
    edit = record["edit_to_response"]
    lines = [
        f"# staticreload benchmarks ({record['date']})",
        "",
        f"Python {record['python']} on {record['machine']['platform']}, "
        f"{record['machine']['cpus']} CPUs; bytecode files written: "
        f"{record['bytecode_files_written']}. Medians; ratios from the same run.",
        "",
        f"## Edit to new response ({edit['edits']} edits each, example_wsgi)",
        "",
        "| contender | median | p90 | max |",
        "| --- | --- | --- | --- |",
    ]
    for name, data in edit["contenders"].items():
        if "skipped" in data:
            lines.append(f"| {name} | skipped: {data['skipped']} | | |")
            continue
        latency = data["latency_s"]
        lines.append(
            f"| {name} | {_ms(latency['median'])} | {_ms(latency['p90'])} | {_ms(latency['max'])} |"
        )
    limit = edit.get("physical_limit", {})
    if limit:
        lines.append(
            f"| physical limit (event + compile/execute + request) | "
            f"{_ms(limit['total_median'])} | | |"
        )
    lines += [
        "",
        "Ratios: " + ", ".join(f"{k} = {v:.1f}x" for k, v in edit.get("ratios", {}).items()),
        "",
    ]
    overhead = record["reload_overhead"]
    lines += [
        f"## Reload overhead ({overhead['modules']}-module synthetic package)",
        "",
        "| edit | closure | reload_paths | compile + execute | execute only | ratio | goal |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for edit_name, data in overhead["edits"].items():
        lines.append(
            f"| {edit_name} | {data['closure_size']} | {_ms(data['reload_s']['median'])} | "
            f"{_ms(data['compile_and_execute_s']['median'])} | "
            f"{_ms(data['execute_only_s']['median'])} | {data['ratio']:.2f}x | "
            f"{'met' if data['within_goal'] else 'missed'} |"
        )
    lines += [
        "",
        "## The map at scale",
        "",
        "| project | modules | grimp build | map build | ratio | update_file (median, p90) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    scale = record["map_scale"]
    for name in ("django", "sympy"):
        data = scale[name]
        if "skipped" in data:
            lines.append(f"| {name} | skipped: {data['skipped']} | | | | |")
            continue
        lines.append(
            f"| {name} | {data['modules']} | {_ms(data['grimp_build_s']['median'])} | "
            f"{_ms(data['map_build_s']['median'])} | {data['build_ratio']:.2f}x | "
            f"{_ms(data['update_file_s']['median'])}, {_ms(data['update_file_s']['p90'])} |"
        )
    generated = scale["generated"]
    lines += [
        "",
        f"Generated project of {generated['modules']} modules: build "
        f"{_ms(generated['build_s']['median'])}, closure query "
        f"{generated['closure_query_s']['median'] * 1e6:.0f} µs, leaf reload "
        f"{_ms(generated['leaf_reload_s']['median'])} (first import of everything: "
        f"{generated['first_import_s']:.1f} s).",
        "",
        "## Closure sizes (how many modules one edit reloads)",
        "",
        "| project | edges | median | p90 | mean |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("django", "sympy"):
        data = scale[name]
        if "skipped" in data:
            continue
        for edges, stats in data["closure_sizes"].items():
            lines.append(
                f"| {name} ({data['modules']}) | {edges} | {stats['median']:.0f} | "
                f"{stats['p90']:.0f} | {stats['mean']:.0f} |"
            )
    mem = record["memory"]
    lines += [
        "",
        "## Memory",
        "",
        f"RSS growth from 10 to {mem['reloads']} leaf reloads: {mem['growth_mb']:.2f} MB "
        f"({'within' if mem['within_goal'] else 'over'} the 5 MB goal).",
        "",
    ]
    return "\n".join(lines)


def chart(record: dict[str, Any], path: Path) -> bool:
    """A log-scale bar chart of edit-to-response medians; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    edit = record["edit_to_response"]
    names, medians, p90s = [], [], []
    for name in ("staticreload", "werkzeug", "hmr"):
        data = edit["contenders"].get(name, {})
        if "latency_s" in data:
            names.append(name)
            medians.append(data["latency_s"]["median"] * 1000)
            p90s.append(data["latency_s"]["p90"] * 1000)
    limit = edit.get("physical_limit", {}).get("total_median")
    if limit:
        names.append("physical limit")
        medians.append(limit * 1000)
        p90s.append(limit * 1000)
    figure, axes = plt.subplots(figsize=(7, 3.6))
    colours = {"staticreload": "#2a7", "werkzeug": "#c44", "hmr": "#d92"}
    axes.barh(names, medians, color=[colours.get(name, "#888") for name in names])
    axes.scatter(p90s, names, marker="|", color="black", s=200, label="p90", zorder=3)
    axes.set_xscale("log")
    axes.set_xlabel("edit to new response, ms (median; log scale)")
    for y, (median, p90) in enumerate(zip(medians, p90s, strict=True)):
        axes.text(max(median, p90) * 1.3, y, f"{median:.1f} ms", va="center")
    axes.set_xlim(right=max(p90s) * 8)
    axes.invert_yaxis()
    axes.legend(loc="lower right")
    axes.set_title("example_wsgi: one view edit")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write (default: results/, or a temporary folder with --quick)",
    )
    parser.add_argument(
        "--peers",
        default=None,
        help="comma-separated: staticreload,werkzeug,hmr (default: all; --quick leaves hmr out)",
    )
    args = parser.parse_args(argv)
    peers = (
        args.peers or ("staticreload,werkzeug" if args.quick else "staticreload,werkzeug,hmr")
    ).split(",")
    output = args.output or (
        Path(tempfile.mkdtemp(prefix="staticreload-bench-")) if args.quick else RESULTS
    )
    output.mkdir(parents=True, exist_ok=True)
    record = measure(args.quick, peers)
    (output / "results.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    (output / "results.md").write_text(markdown(record))
    chart(record, output / "edit_to_response.png")
    print((output / "results.md").read_text())
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
