"""The map against grimp on a real installed package (Django, from the test extra)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from staticreload import DependencyMap

grimp = pytest.importorskip("grimp")
pytest.importorskip("django")


@pytest.fixture(scope="module")
def django_map() -> DependencyMap:
    return DependencyMap.build("django")


@pytest.fixture(scope="module")
def grimp_graph() -> Any:
    return grimp.build_graph("django", cache_dir=None, exclude_type_checking_imports=True)


def bound_parents(imports: Any, importer: str, imported: str) -> set[tuple[str, str]]:
    """Edges to the packages a plain ``import a.b.c`` binds (``a``, ``a.b``): not grimp's."""
    edges = set()
    for detail in imports.get_import_details(importer=importer, imported=imported):
        statement = detail["line_contents"].partition("#")[0].strip()
        names = re.fullmatch(r"import ([\w.]+(?:\s*,\s*[\w.]+)*)", statement)
        if names and imported in re.split(r"\s*,\s*", names.group(1)):
            parts = imported.split(".")
            edges |= {(importer, ".".join(parts[:n])) for n in range(1, len(parts))}
    return {(a, b) for a, b in edges if a != b}


def test_every_grimp_edge_and_the_bound_parents(
    django_map: DependencyMap, grimp_graph: Any
) -> None:
    imports = grimp_graph
    expected = {
        (importer, imported)
        for importer in imports.modules
        for imported in imports.find_modules_directly_imported_by(importer)
    }
    parents = set().union(*(bound_parents(imports, *pair) for pair in expected))
    assert len(parents - expected) >= 20  # `import django.contrib.auth.models`, in migrations
    assert set(django_map.modules) == set(imports.modules)
    assert set(django_map.graph.edges) == expected | parents
    # A spread of the edges, the same ones whatever the hash seed.
    for importer, imported in sorted(expected)[:: max(1, len(expected) // 200)]:
        details = imports.get_import_details(importer=importer, imported=imported)
        lines = {(d["line_number"], d["line_contents"]) for d in details}
        assert set(django_map.graph.edges[importer, imported]["lines"]) == lines


# Closures read from Django's source (stable since Django 4.2): importers of importers count.
DJANGO_CLOSURES = {
    "django.template.smartif": {
        "django.template.smartif",
        "django.template.defaulttags",
        "django.templatetags.i18n",  # imports defaulttags, which imports smartif
    },
    "django.contrib.admin.views.decorators": {
        "django.contrib.admin.views.decorators",
        "django.contrib.admindocs.views",
        "django.contrib.admindocs.urls",  # through admindocs.views
    },
    "django.core.management.templates": {
        "django.core.management.templates",
        "django.core.management.commands.startapp",
        "django.core.management.commands.startproject",
    },
    "django.core.management.commands.check": {"django.core.management.commands.check"},
}


@pytest.mark.parametrize("module", sorted(DJANGO_CLOSURES))
def test_closure_by_hand(django_map: DependencyMap, module: str) -> None:
    assert django_map.closure([module]) == DJANGO_CLOSURES[module]
    assert django_map.closure([django_map.path_of(module)]) == DJANGO_CLOSURES[module]


def importers_upstream(importers: dict[str, set[str]], module: str) -> set[str]:
    """The module and everything that imports it, directly or not: a plain search."""
    found, pending = {module}, [module]
    while pending:
        for importer in importers[pending.pop()] - found:
            found.add(importer)
            pending.append(importer)
    return found


def test_closure_is_the_module_plus_its_importers_by_grimp_and_bound_parents(
    django_map: DependencyMap, grimp_graph: Any
) -> None:
    importers = {
        m: set(grimp_graph.find_modules_that_directly_import(m)) for m in grimp_graph.modules
    }
    for importer in grimp_graph.modules:
        for imported in grimp_graph.find_modules_directly_imported_by(importer):
            for edge_importer, parent in bound_parents(grimp_graph, importer, imported):
                importers[parent].add(edge_importer)
    packages = [m for m in django_map.modules if django_map.graph.nodes[m]["is_package"]]
    for module in sorted({*django_map.modules[::10], *packages}):
        assert django_map.closure([module]) == importers_upstream(importers, module), module


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
