"""Pure graph logic over a networkx ``DiGraph`` of modules.

Edges point from importer to imported. Each edge carries:

- ``lines``: a tuple of ``(line_number, line_contents)`` for the import statements
  found in the importer's source (empty for an import only seen at run time);
- ``scope``: ``"module"`` if any of those statements runs at import time (module
  level, class bodies, module-level ``if``/``try``/``with``), ``"function"`` if all of
  them run only when a function is called;
- ``runtime``: True if the import was seen at run time (``importlib.import_module``,
  ``__import__``), which a static scan cannot see.

This module knows nothing of files, ``sys.modules``, grimp or watchdog.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Literal, NamedTuple

import networkx as nx

__all__ = [
    "FUNCTION_SCOPE",
    "MODULE_SCOPE",
    "ImportLine",
    "add_runtime_import",
    "adjacency",
    "closure",
    "import_order",
    "new_graph",
    "set_imports",
]

Scope = Literal["module", "function"]
MODULE_SCOPE: Scope = "module"
FUNCTION_SCOPE: Scope = "function"


class ImportLine(NamedTuple):
    """One import statement of an importer.

    Attributes:
        line_number: 1-based line of the statement in the importer's source.
        line_contents: the statement's first line, stripped.
        scope: ``"module"`` if it runs at import time, ``"function"`` otherwise.
    """

    line_number: int
    line_contents: str
    scope: Scope


def _edge_attributes(lines: Iterable[ImportLine], *, runtime: bool) -> dict[str, object]:
    ordered = sorted(set(lines))
    at_import_time = runtime or not ordered or any(line.scope == MODULE_SCOPE for line in ordered)
    return {
        "lines": tuple(line[:2] for line in ordered),
        "scope": MODULE_SCOPE if at_import_time else FUNCTION_SCOPE,
        "runtime": runtime,
    }


def new_graph(
    nodes: Mapping[str, Mapping[str, object]],
    imports: Mapping[str, Mapping[str, Iterable[ImportLine]]],
) -> nx.DiGraph:
    """A graph from scanned modules and their static imports.

    Args:
        nodes: module -> its node attributes.
        imports: importer -> imported module -> the statements that import it.
            Imports of modules missing from ``nodes``, and of the importer
            itself, are left out.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes.items())
    graph.add_edges_from(
        (importer, imported, _edge_attributes(lines, runtime=False))
        for importer, found in imports.items()
        for imported, lines in found.items()
        if imported != importer and imported in nodes
    )
    return graph


def set_imports(
    graph: nx.DiGraph, importer: str, imports: Mapping[str, Iterable[ImportLine]]
) -> None:
    """Replace the statically found imports of ``importer``.

    Edges recorded at run time survive (a static scan cannot see them); their
    ``lines`` are replaced by whatever the new scan found.

    Args:
        graph: the graph to change in place; ``importer`` and every imported module
            must already be nodes.
        importer: the importing module.
        imports: imported module -> the import statements that import it.
    """
    for imported in list(graph.successors(importer)):
        if imported not in imports:
            if graph.edges[importer, imported]["runtime"]:
                graph.add_edge(importer, imported, **_edge_attributes((), runtime=True))
            else:
                graph.remove_edge(importer, imported)
    for imported, lines in imports.items():
        if imported == importer:
            continue
        runtime = graph.has_edge(importer, imported) and graph.edges[importer, imported]["runtime"]
        graph.add_edge(importer, imported, **_edge_attributes(lines, runtime=runtime))


def add_runtime_import(graph: nx.DiGraph, importer: str, imported: str) -> bool:
    """Record an import seen at run time.

    Returns:
        True if the edge is new, False if the graph already had it.
    """
    if importer == imported or graph.has_edge(importer, imported):
        return False
    graph.add_edge(importer, imported, **_edge_attributes((), runtime=True))
    return True


def _import_time_view(graph: nx.DiGraph) -> nx.DiGraph:
    def at_import_time(importer: str, imported: str) -> bool:
        return bool(graph.edges[importer, imported]["scope"] == MODULE_SCOPE)

    return nx.subgraph_view(graph, filter_edge=at_import_time)


def closure(
    graph: nx.DiGraph, modules: Iterable[str], *, import_time_only: bool = False
) -> set[str]:
    """The modules plus every module that imports one of them, directly or not.

    Args:
        graph: the import graph.
        modules: the changed modules; names not in the graph are ignored.
        import_time_only: follow only edges whose ``scope`` is ``"module"``.

    Returns:
        The closure as a set of module names.
    """
    view = _import_time_view(graph) if import_time_only else graph
    result: set[str] = set()
    for module in modules:
        if module in view and module not in result:
            result.add(module)
            result |= nx.ancestors(view, module)
    return result


def import_order(
    graph: nx.DiGraph, modules: Iterable[str], positions: Mapping[str, int]
) -> list[str]:
    """The order in which to import ``modules`` again.

    Modules with a recorded position (the order in which their first import
    started) come in that order. Modules without one (loaded before recording
    began) come first, dependencies before their importers; the members of an
    import cycle, whose order a static graph cannot know, by name.

    Args:
        graph: the import graph.
        modules: the modules to order.
        positions: module -> position at which its first import started.

    Returns:
        The modules, each once, in import order.
    """
    wanted = set(modules)
    unrecorded = [m for m in wanted if m not in positions]
    ordered: list[str] = []
    if unrecorded:
        condensed = nx.condensation(graph.subgraph(unrecorded))
        for component in reversed(list(nx.topological_sort(condensed))):
            ordered.extend(sorted(condensed.nodes[component]["members"]))
    ordered.extend(sorted(wanted - set(unrecorded), key=lambda m: positions.get(m, math.inf)))
    return ordered


def adjacency(
    graph: nx.DiGraph,
    *,
    direction: Literal["dependencies", "dependents"],
    key: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """Every node with its direct dependencies or dependents, as sorted lists.

    Args:
        graph: the import graph.
        direction: ``"dependencies"`` (what each module imports) or
            ``"dependents"`` (what imports each module).
        key: an optional renaming of nodes (module -> file path, say).

    Returns:
        A dict sorted by key; every node is a key, with an empty list if it has
        no neighbours in that direction.
    """
    neighbours = graph.successors if direction == "dependencies" else graph.predecessors
    name = (lambda node: key[node]) if key is not None else (lambda node: node)
    return {
        name(node): sorted(name(other) for other in neighbours(node))
        for node in sorted(graph.nodes, key=name)
    }
