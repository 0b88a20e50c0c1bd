"""Synthetic packages for the benchmarks: layered import graphs of any size."""

from __future__ import annotations

import random
from pathlib import Path


def write_layered_package(
    root: Path,
    name: str,
    modules: int,
    *,
    layers: int = 6,
    imports_per_module: int = 2,
    seed: int = 0,
) -> dict[str, str]:
    """Write package ``name`` under ``root``: ``modules`` modules in ``layers`` layers.

    Layer 0 is imported by nobody; each module imports ``imports_per_module``
    modules of the next layer; the last layer imports ``core``, which imports
    nothing. Every module computes a value from what it imports and defines a
    few functions and a class, so executing it does real work.

    Returns:
        ``{"leaf": module, "middle": module, "root": module}``: a module nobody
        imports, one in the middle layer, and ``core``, which everything imports.
    """
    rng = random.Random(seed)
    package = root / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    per_layer = max(1, (modules - 1) // layers)
    names = [[f"m{layer}_{index}" for index in range(per_layer)] for layer in range(layers)]
    (package / "core.py").write_text(_module_source(name, []))
    for layer, layer_names in enumerate(names):
        for module in layer_names:
            if layer + 1 < layers:
                imported = rng.sample(names[layer + 1], min(imports_per_module, per_layer))
            else:
                imported = ["core"]
            (package / f"{module}.py").write_text(_module_source(name, imported))
    return {
        "leaf": f"{name}.{names[0][0]}",
        "middle": f"{name}.{names[layers // 2][0]}",
        "root": f"{name}.core",
    }


def _module_source(package: str, imported: list[str]) -> str:
    lines = [f"from {package} import {module}" for module in imported]
    total = " + ".join(f"{module}.VALUE" for module in imported) or "1"
    lines += [
        f"VALUE = {total} + 1",
        "",
        "def double(x):",
        "    return 2 * x + VALUE",
        "",
        "class Thing:",
        "    size = VALUE",
        "    def grow(self, n):",
        "        return [self.size * i for i in range(n)]",
        "",
        "TABLE = {i: double(i) for i in range(50)}",
        "",
    ]
    return "\n".join(lines)
