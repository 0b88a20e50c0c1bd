"""Reload overhead: ``Reloader.reload_paths`` against compiling and executing the same source.

The physical limit of a reload is compiling and executing the closure's
modules; everything else (the map, eviction, the import system, bookkeeping)
is overhead. Goal: under 1.5x the limit plus 2 ms. The reloader keeps the
code objects of unchanged files, so it compiles only the changed file; the
execute-only figure (the closure's code objects run in fresh namespaces, no
compiling at all) is the floor that leaves.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import summary, timed
from benchmarks.synthetic import write_layered_package
from staticreload import Reloader

EDITS = ("leaf", "middle", "root")


def run(modules: int, repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {"modules": modules, "repeat": repeat, "edits": {}}
    saved_path, saved_modules = list(sys.path), dict(sys.modules)
    with tempfile.TemporaryDirectory(prefix="staticreload-overhead-") as folder:
        root = Path(folder)
        picks = write_layered_package(root, "synth", modules)
        sys.path.insert(0, str(root))
        try:
            reloader = Reloader.from_targets("synth", root=root)
            reloader.install()
            for module in reloader.map.modules:
                importlib.import_module(module)
            for edit, module in ((edit, picks[edit]) for edit in EDITS):
                results["edits"][edit] = _measure(reloader, module, repeat)
            reloader.uninstall()
        finally:
            sys.path[:] = saved_path
            for name in set(sys.modules) - set(saved_modules):
                del sys.modules[name]
    return results


def _measure(reloader: Reloader, module: str, repeat: int) -> dict[str, Any]:
    path = reloader.map.path_of(module)
    closure = reloader.map.closure([module])
    sources = {m: reloader.map.path_of(m) for m in sorted(closure)}

    def bare() -> None:
        for name, file in sources.items():
            code = compile(file.read_bytes(), str(file), "exec")
            exec(code, {"__name__": name, "__file__": str(file)})

    codes = {name: compile(file.read_bytes(), str(file), "exec") for name, file in sources.items()}

    def execute_only() -> None:
        for name, code in codes.items():
            exec(code, {"__name__": name})

    reloads = []
    for number in range(repeat):
        text = path.read_text()
        path.write_text(text.replace("VALUE = ", f"EDIT_{number} = 0\nVALUE = ", 1))
        result = reloader.reload_paths([path])
        assert result.ok, result.error
        reloads.append(result.duration_s)
    limit = summary(timed(bare, repeat))
    executing = summary(timed(execute_only, repeat))
    ours = summary(reloads)
    return {
        "module": module,
        "closure_size": len(closure),
        "reload_s": ours,
        "compile_and_execute_s": limit,
        "execute_only_s": executing,
        "ratio": ours["median"] / limit["median"],
        "ratio_to_execute_only": ours["median"] / executing["median"],
        "within_goal": ours["median"] <= 1.5 * limit["median"] + 0.002,
    }
