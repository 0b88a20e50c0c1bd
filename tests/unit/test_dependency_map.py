from __future__ import annotations

from pathlib import Path

import pytest

from staticreload import DependencyMap, NotInMapError, PackageNotFoundError, SourceSyntaxError
from tests.conftest import WriteProject

SHOP = {
    "shop/__init__.py": "from . import models\n",
    "shop/models.py": """\
        from typing import TYPE_CHECKING
        from shop import util
        if TYPE_CHECKING:
            from shop import views
        PRICE = util.double(2)
        """,
    "shop/util.py": "def double(x):\n    return 2 * x\n",
    "shop/views.py": """\
        import shop.models
        from shop.sub import deep

        class View:
            from shop import util as class_level

        try:
            import shop.extra
        except ImportError:
            pass

        def handler():
            from shop import util
            return util

        async def other():
            import shop.sub
        """,
    "shop/extra.py": "",
    "shop/sub/__init__.py": "",
    "shop/sub/deep.py": "from .. import util\n",
}


@pytest.fixture
def shop(project: WriteProject) -> Path:
    return project(SHOP)


def edge(m: DependencyMap, importer: str, imported: str) -> dict[str, object]:
    data: dict[str, object] = m.graph.edges[importer, imported]
    return data


def test_edges_point_from_importer_to_imported(shop: Path) -> None:
    m = DependencyMap.build("shop", root=shop)
    assert m.modules == [
        "shop",
        "shop.extra",
        "shop.models",
        "shop.sub",
        "shop.sub.deep",
        "shop.util",
        "shop.views",
    ]
    assert set(m.graph.successors("shop.views")) == {
        "shop",  # `import shop.models` binds the package `shop` (grimp has no such edge)
        "shop.models",
        "shop.sub",
        "shop.sub.deep",
        "shop.util",
        "shop.extra",
    }
    assert set(m.graph.successors("shop.sub.deep")) == {"shop.util"}
    assert m.path_of("shop.sub") == shop / "shop" / "sub" / "__init__.py"
    assert m.graph.nodes["shop.sub"]["is_package"] is True


def test_edges_record_lines_and_scope(shop: Path) -> None:
    m = DependencyMap.build("shop", root=shop)
    util = edge(m, "shop.views", "shop.util")
    assert util["lines"] == (
        (5, "from shop import util as class_level"),
        (13, "from shop import util"),
    )
    assert util["scope"] == "module"  # the class body runs at import time
    assert edge(m, "shop.views", "shop.extra")["scope"] == "module"  # module-level try
    assert edge(m, "shop.views", "shop.sub")["scope"] == "function"  # async def only
    assert edge(m, "shop.views", "shop.sub")["runtime"] is False


def test_type_checking_imports_are_left_out_unless_asked(shop: Path) -> None:
    assert not DependencyMap.build("shop", root=shop).graph.has_edge("shop.models", "shop.views")
    m = DependencyMap.build("shop", root=shop, exclude_type_checking=False)
    assert m.graph.has_edge("shop.models", "shop.views")


def test_directory_target_and_queries(shop: Path) -> None:
    m = DependencyMap.build(shop / "shop", root=shop)
    assert m.dependents("shop.util") == {"shop", "shop.models", "shop.views", "shop.sub.deep"}
    assert m.dependencies("shop.sub.deep") == {"shop.util"}
    assert m.module_of(shop / "shop" / "util.py") == "shop.util"
    assert m.module_of(shop / "elsewhere.py") is None
    assert m.closure([shop / "shop" / "sub" / "deep.py"]) == {"shop.sub.deep", "shop.views"}
    assert m.closure(["shop.extra"]) == {"shop.extra", "shop.views"}


def test_closure_can_follow_import_time_edges_only(shop: Path) -> None:
    m = DependencyMap.build("shop", root=shop)
    assert "shop.views" in m.closure(["shop.sub"])
    assert "shop.views" not in m.closure(["shop.sub"], import_time_only=True)


def test_loose_modules_are_scanned_with_packages(project: WriteProject) -> None:
    root = project(
        {
            "app.py": "import views\nfrom blog import posts\n",
            "views.py": "from helpers import slug\n",
            "helpers.py": "def slug(s):\n    return s\n",
            "blog/__init__.py": "",
            "blog/posts.py": "import helpers\n",
            "notes/readme.py": "import app\n",  # no __init__.py: not a package
        }
    )
    m = DependencyMap.build(root, root=root)
    assert m.to_dict(keys="modules") == {
        "app": ["blog.posts", "views"],
        "blog": [],
        "blog.posts": ["helpers"],
        "helpers": [],
        "views": ["helpers"],
    }
    assert DependencyMap.build(root=root).to_dict() == m.to_dict()


def test_to_dict_files_and_dependents(shop: Path) -> None:
    m = DependencyMap.build("shop", root=shop)
    files = m.to_dict()
    assert files["shop/sub/deep.py"] == ["shop/util.py"]
    assert list(files) == sorted(files)
    dependents = m.to_dict(direction="dependents", keys="modules")
    assert dependents["shop.util"] == ["shop.models", "shop.sub.deep", "shop.views"]
    assert dependents["shop.views"] == []


def test_update_file_drops_removed_imports_and_adds_new_ones(shop: Path) -> None:
    m = DependencyMap.build("shop", root=shop)
    (shop / "shop" / "sub" / "deep.py").write_text("import shop.extra\n")
    assert m.update_file(shop / "shop" / "sub" / "deep.py") == "shop.sub.deep"
    assert set(m.graph.successors("shop.sub.deep")) == {"shop.extra", "shop"}
    assert edge(m, "shop.sub.deep", "shop.extra")["lines"] == ((1, "import shop.extra"),)
    assert edge(m, "shop.sub.deep", "shop")["lines"] == ((1, "import shop.extra"),)


def test_update_file_adds_and_deletes_modules(shop: Path) -> None:
    m = DependencyMap.build("shop", root=shop)
    (shop / "shop" / "models.py").write_text("from shop import fresh\n")
    m.update_file(shop / "shop" / "models.py")
    assert m.graph.has_edge("shop.models", "shop")  # `fresh` is a name in shop, so far
    (shop / "shop" / "fresh.py").write_text("from shop.util import double\n")
    assert m.update_file(shop / "shop" / "fresh.py") == "shop.fresh"
    assert m.graph.has_edge("shop.models", "shop.fresh")
    assert not m.graph.has_edge("shop.models", "shop")
    assert m.dependencies("shop.fresh") == {"shop.util"}

    (shop / "shop" / "fresh.py").unlink()
    assert m.update_file(shop / "shop" / "fresh.py") == "shop.fresh"
    assert "shop.fresh" not in m
    assert m.graph.has_edge("shop.models", "shop")
    assert m.module_of(shop / "shop" / "fresh.py") is None


def test_update_file_follows_a_module_turned_into_a_package(shop: Path) -> None:
    m = DependencyMap.build("shop", root=shop)
    (shop / "shop" / "util.py").unlink()
    m.update_file(shop / "shop" / "util.py")
    assert not m.graph.has_edge("shop.sub.deep", "shop.util")
    (shop / "shop" / "util").mkdir()
    (shop / "shop" / "util" / "__init__.py").write_text("from shop import extra\n")
    assert m.update_file(shop / "shop" / "util" / "__init__.py") == "shop.util"
    assert m.graph.nodes["shop.util"]["is_package"] is True
    assert m.graph.has_edge("shop.sub.deep", "shop.util")
    assert m.dependencies("shop.util") == {"shop.extra"}


def test_update_file_keeps_runtime_edges(shop: Path) -> None:
    m = DependencyMap.build("shop", root=shop)
    assert m.add_runtime_import("shop.util", "shop.extra") is True
    assert m.add_runtime_import("shop.util", "shop.extra") is False
    assert m.add_runtime_import("shop.util", "not.in.map") is False
    (shop / "shop" / "util.py").write_text("X = 1\n")
    m.update_file(shop / "shop" / "util.py")
    assert edge(m, "shop.util", "shop.extra") == {"lines": (), "scope": "module", "runtime": True}


def test_update_file_errors(shop: Path, tmp_path: Path) -> None:
    m = DependencyMap.build("shop", root=shop)
    before = m.to_dict()
    (shop / "shop" / "util.py").write_text("def broken(:\n")
    with pytest.raises(SourceSyntaxError) as caught:
        m.update_file(shop / "shop" / "util.py")
    assert caught.value.lineno == 1
    assert m.to_dict() == before
    outside = tmp_path / "outside.py"
    outside.write_text("")
    with pytest.raises(NotInMapError):
        m.update_file(outside)
    with pytest.raises(NotInMapError):
        m.update_file(shop / "shop" / "never_existed.py")
    with pytest.raises(NotInMapError):
        m.closure(["no.such.module"])
    with pytest.raises(NotInMapError):
        m.dependents("no.such.module")


def test_build_errors(shop: Path) -> None:
    with pytest.raises(PackageNotFoundError, match="no_such_package"):
        DependencyMap.build("no_such_package", root=shop)


def test_an_unparsable_file_is_left_out_with_a_warning(
    shop: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A scratch or Python 2 file must not stop the map (nor ``serve``)."""
    util = shop / "shop" / "util.py"
    util.write_text("def broken(:\n")
    m = DependencyMap.build("shop", root=shop)
    assert "shop.util" not in m
    assert set(m.unparsed) == {util.resolve()}
    assert "util.py" in caplog.text and "cannot be parsed" in caplog.text
    assert len(m.modules) > 1  # the rest is mapped
    util.write_text("X = 1\n")
    assert m.update_file(util) == "shop.util" and not m.unparsed


def test_build_leaves_no_cache_in_the_project(shop: Path) -> None:
    before = sorted(p.relative_to(shop) for p in shop.rglob("*"))
    DependencyMap.build("shop", root=shop)
    assert sorted(p.relative_to(shop) for p in shop.rglob("*")) == before


def test_update_file_agrees_with_a_fresh_build(shop: Path) -> None:
    m = DependencyMap.build("shop", root=shop)
    expected = {(a, b): dict(d) for a, b, d in m.graph.edges(data=True)}
    for module in m.modules:
        m.update_file(m.path_of(module))
    assert {(a, b): dict(d) for a, b, d in m.graph.edges(data=True)} == expected
