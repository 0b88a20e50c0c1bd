"""The map against grimp on a real installed package (Django, from the test extra)."""

from __future__ import annotations

import networkx as nx
import pytest

from staticreload import DependencyMap

grimp = pytest.importorskip("grimp")
pytest.importorskip("django")


@pytest.fixture(scope="module")
def django_map() -> DependencyMap:
    return DependencyMap.build("django")


def test_every_grimp_edge_and_no_other(django_map: DependencyMap) -> None:
    imports = grimp.build_graph("django", cache_dir=None, exclude_type_checking_imports=True)
    expected = {
        (importer, imported)
        for importer in imports.modules
        for imported in imports.find_modules_directly_imported_by(importer)
    }
    assert set(django_map.modules) == set(imports.modules)
    assert set(django_map.graph.edges) == expected
    for importer, imported in list(expected)[:200]:
        details = imports.get_import_details(importer=importer, imported=imported)
        lines = {(d["line_number"], d["line_contents"]) for d in details}
        assert set(django_map.graph.edges[importer, imported]["lines"]) == lines


def test_closure_is_the_module_plus_its_networkx_ancestors(django_map: DependencyMap) -> None:
    for module in django_map.modules[::25]:
        expected = nx.ancestors(django_map.graph, module) | {module}
        assert django_map.closure([module]) == expected
        assert django_map.closure([django_map.path_of(module)]) == expected


def test_update_file_on_unchanged_files_changes_nothing(django_map: DependencyMap) -> None:
    """Single-file re-scans (ast) agree with the grimp build, scopes included."""
    sample = [m for m in django_map.modules if not m.split(".")[-1][0].isdigit()][::3]
    for module in sample:
        before = {
            imported: dict(django_map.graph.edges[module, imported])
            for imported in django_map.graph.successors(module)
        }
        assert django_map.update_file(django_map.path_of(module)) == module
        after = {
            imported: dict(django_map.graph.edges[module, imported])
            for imported in django_map.graph.successors(module)
        }
        assert after == before, module
