"""The map at scale: build against grimp alone, ``update_file``, closure queries, closure sizes."""

from __future__ import annotations

import importlib
import importlib.util
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grimp
import networkx as nx

from benchmarks.common import summary, timed
from benchmarks.synthetic import write_layered_package
from staticreload import DependencyMap, Reloader


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def build_against_grimp(package: str, repeat: int) -> dict[str, Any]:
    """Interleaved runs of ``grimp.build_graph`` and ``DependencyMap.build``; medians and ratio."""
    grimp_times, map_times = [], []
    for _ in range(repeat):
        grimp_times += timed(
            lambda: grimp.build_graph(package, cache_dir=None, exclude_type_checking_imports=True),
            1,
        )
        map_times += timed(lambda: DependencyMap.build(package), 1)
    dependency_map = DependencyMap.build(package)
    rng = random.Random(0)
    sample = rng.sample(dependency_map.modules, min(100, len(dependency_map.modules)))
    update = [
        timed(lambda m=m: dependency_map.update_file(dependency_map.path_of(m)), 1)[0]
        for m in sample
    ]
    grimp_s, map_s = summary(grimp_times), summary(map_times)
    return {
        "modules": len(dependency_map.modules),
        "edges": dependency_map.graph.number_of_edges(),
        "grimp_build_s": grimp_s,
        "map_build_s": map_s,
        "build_ratio": map_s["median"] / grimp_s["median"],
        "update_file_s": summary(update),
        "closure_sizes": closure_sizes(dependency_map),
    }


def closure_sizes(dependency_map: DependencyMap) -> dict[str, Any]:
    """How many modules an edit to each module would reload: all edges, import-time edges."""
    graph = dependency_map.graph
    import_time = nx.subgraph_view(
        graph, filter_edge=lambda a, b: graph.edges[a, b]["scope"] == "module"
    )
    result = {}
    for name, view in (("all_edges", graph), ("import_time_only", import_time)):
        sizes = [len(nx.ancestors(view, module)) + 1 for module in graph]
        stats = summary([float(size) for size in sizes])
        stats["share_of_project_median"] = stats["median"] / len(sizes)
        result[name] = stats
    return result


def generated_project(modules: int, repeat: int) -> dict[str, Any]:
    """Build, closure query and leaf reload on a generated project of ``modules`` modules."""
    saved_path, saved_modules = list(sys.path), dict(sys.modules)
    with tempfile.TemporaryDirectory(prefix="staticreload-scale-") as folder:
        root = Path(folder)
        picks = write_layered_package(root, "big", modules, layers=10)
        sys.path.insert(0, str(root))
        try:
            build = summary(timed(lambda: DependencyMap.build("big", root=root), repeat))
            reloader = Reloader.from_targets("big", root=root)
            rng = random.Random(1)
            queried = rng.sample(reloader.map.modules, min(100, len(reloader.map.modules)))
            queries = [timed(lambda m=m: reloader.map.closure([m]), 1)[0] for m in queried]
            reloader.install()
            started = time.perf_counter()
            for module in reloader.map.modules:
                importlib.import_module(module)
            import_s = time.perf_counter() - started
            leaf = reloader.map.path_of(picks["leaf"])
            reloads = []
            for number in range(repeat):
                leaf.write_text(leaf.read_text() + f"\nEDIT = {number}\n")
                result = reloader.reload_paths([leaf])
                assert result.ok, result.error
                reloads.append(result.duration_s)
            reloader.uninstall()
        finally:
            sys.path[:] = saved_path
            for name in set(sys.modules) - set(saved_modules):
                del sys.modules[name]
    return {
        "modules": modules,
        "build_s": build,
        "closure_query_s": summary(queries),
        "first_import_s": import_s,
        "leaf_reload_s": summary(reloads),
    }
