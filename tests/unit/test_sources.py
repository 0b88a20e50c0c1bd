"""Source trees, path -> module name, what is ignored: tables against a small tree on disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from staticreload.exceptions import PackageNotFoundError
from staticreload.sources import (
    ModuleSource,
    SourceTree,
    is_ignored,
    is_module_file,
    module_for_path,
    resolve_targets,
    tree_members,
)

BASE = Path("/srv/site")  # for checks on paths alone: nothing is read there

FILES = [
    "pkg/__init__.py",
    "pkg/a.py",
    "pkg/0001_initial.py",
    "pkg/a.tar.py",
    "pkg/notes.txt",
    "pkg/sub/__init__.py",
    "pkg/sub/b.py",
    "pkg/data/c.py",  # no __init__.py: not a package
    "pkg/my-dir/__init__.py",  # not an identifier: never a package
    "pkg/my-dir/d.py",
    "loose.py",
    "web/__init__.py",
    "web/views.py",
    "website/__init__.py",
    "website/views.py",
    "folder/only.py",
]


def write_tree(base: Path) -> Path:
    for name in FILES:
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    return base.resolve()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tree of files, not on ``sys.path``; shared, so never changed by a test."""
    return write_tree(tmp_path_factory.mktemp("sources") / "root")


@pytest.fixture
def own_root(tmp_path: Path) -> Path:
    """The tree of files, for a test that adds files."""
    return write_tree(tmp_path / "root")


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("pkg/__init__.py", ("pkg", True)),
        ("pkg/a.py", ("pkg.a", False)),
        ("pkg/new.py", ("pkg.new", False)),  # need not exist yet
        ("pkg/0001_initial.py", ("pkg.0001_initial", False)),  # grimp counts it
        ("pkg/sub/__init__.py", ("pkg.sub", True)),
        ("pkg/sub/b.py", ("pkg.sub.b", False)),
        ("pkg/data/c.py", None),
        ("pkg/my-dir/d.py", None),
        ("pkg/my-dir/__init__.py", None),
        ("pkg/a.tar.py", None),
        ("pkg/notes.txt", None),
        ("pkg/.py", None),
        ("pkg/sub", None),
        ("loose.py", None),  # outside the tree of "pkg"
        ("website/views.py", None),
        ("../elsewhere/pkg/a.py", None),
    ],
)
def test_module_for_path_in_a_package_tree(
    root: Path, relative: str, expected: tuple[str, bool] | None
) -> None:
    path = (root / relative).resolve()
    assert module_for_path(path, [SourceTree(root, "pkg")]) == expected


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("loose.py", ("loose", False)),
        ("pkg/a.py", ("pkg.a", False)),
        ("web/views.py", ("web.views", False)),
        ("website/views.py", ("website.views", False)),
        ("folder/only.py", None),
        ("__init__.py", None),  # the root itself is no package
    ],
)
def test_module_for_path_in_a_folder_of_modules(
    root: Path, relative: str, expected: tuple[str, bool] | None
) -> None:
    assert module_for_path(root / relative, [SourceTree(root)]) == expected


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("web/views.py", ("web.views", False)),
        ("website/views.py", None),  # "website" is not inside "web"
        ("web.py", ("web", False)),
    ],
)
def test_module_for_path_does_not_match_a_prefix(
    root: Path, relative: str, expected: tuple[str, bool] | None
) -> None:
    assert module_for_path(root / relative, [SourceTree(root, "web")]) == expected


@pytest.mark.parametrize(
    ("relative", "ignored"),
    [
        ("views.py", False),
        ("sub/views.py", False),
        ("sub", False),  # a folder: deleting it deletes modules
        ("Makefile", False),  # no suffix: could be a folder
        ("", False),
        ("__pycache__/views.cpython-311.pyc", True),
        ("__pycache__/views.py", True),
        ("sub/__pycache__/x.py", True),
        (".git/config.py", True),
        (".hidden.py", True),
        (".views.py.swp", True),
        ("venv/lib/x.py", True),
        ("env/x.py", True),
        ("lib/site-packages/x.py", True),
        ("node_modules/x.py", True),
        ("notes.txt", True),
        ("views.pyc", True),
        ("views.py~", True),
        ("../x.py", True),
        ("../website/x.py", True),
    ],
)
def test_is_ignored(relative: str, ignored: bool) -> None:
    folder = BASE / "web"
    assert is_ignored(folder / relative, folder) is ignored
    assert is_ignored(str(folder / relative), folder) is ignored


def test_is_ignored_counts_only_from_the_folder_down() -> None:
    folder = BASE / "venv" / ".work" / "project"  # a project inside such folders
    assert not is_ignored(folder / "app.py", folder)
    assert is_ignored(BASE / "elsewhere" / "app.py", folder)
    assert is_ignored(BASE / "web" / "x.py", BASE / "website")
    assert is_ignored(BASE / "website" / "x.py", BASE / "web")


@pytest.mark.parametrize(
    ("name", "is_module"),
    [("a.py", True), ("0001_initial.py", True), (".py", False), ("a.b.py", False), ("a", False)],
)
def test_is_module_file(name: str, is_module: bool) -> None:
    assert is_module_file(name) is is_module


@pytest.mark.parametrize(
    ("relative", "in_web", "in_root"),
    [
        ("web/views.py", True, True),
        ("web/deep/er/x.py", True, True),
        ("web.py", True, True),
        ("web", True, True),
        ("website/views.py", False, True),
        ("website.py", False, True),
        ("webx.py", False, True),
        ("other/web/x.py", False, True),
        ("", False, True),
        ("../web/x.py", False, False),
        ("../root2/web/x.py", False, False),  # a sibling root sharing the prefix
    ],
)
def test_source_tree_contains(root: Path, relative: str, in_web: bool, in_root: bool) -> None:
    path = (root / relative).resolve()
    assert SourceTree(root, "web").contains(path) is in_web
    assert SourceTree(root).contains(path) is in_root


def test_source_tree_folder(root: Path) -> None:
    assert SourceTree(root, "pkg").folder == root / "pkg"
    assert SourceTree(root, "loose").folder == root
    assert SourceTree(root).folder == root


def test_tree_members(root: Path) -> None:
    packages, loose = tree_members(SourceTree(root))
    assert packages == ["pkg", "web", "website"]
    assert loose == {"loose": ModuleSource(root / "loose.py", is_package=False)}
    assert tree_members(SourceTree(root, "pkg")) == (["pkg"], {})
    loose_tree = tree_members(SourceTree(root, "loose"))
    assert loose_tree == ([], {"loose": ModuleSource(root / "loose.py", is_package=False)})


def test_resolve_targets_directories_and_names(root: Path) -> None:
    path_before, modules_before = list(sys.path), set(sys.modules)
    trees = resolve_targets([root / "pkg", root / "folder", str(root), "json"], root=None)
    assert trees[:3] == [SourceTree(root, "pkg"), SourceTree(root / "folder"), SourceTree(root)]
    assert trees[3].top == "json"  # from sys.path, without importing it
    assert (trees[3].root / "json" / "__init__.py").is_file()
    assert sys.path == path_before
    assert set(sys.modules) == modules_before


def test_resolve_targets_finds_names_in_root_first(own_root: Path) -> None:
    root = own_root
    (root / "json.py").write_text("")  # shadows the standard library's json, in root only
    path_before, modules_before = list(sys.path), set(sys.modules)
    trees = resolve_targets(["pkg", "loose", "json"], root=root)
    assert trees == [SourceTree(root, "pkg"), SourceTree(root, "loose"), SourceTree(root, "json")]
    assert sys.path == path_before
    assert set(sys.modules) == modules_before


def test_a_folder_named_is_a_namespace_package_given_as_a_path_a_folder_of_modules(
    own_root: Path,
) -> None:
    root = own_root
    (root / "src" / "app").mkdir(parents=True)
    (root / "src" / "app" / "__init__.py").write_text("")
    path_before = list(sys.path)
    trees = resolve_targets(["folder", root / "folder", "src"], root=root)
    assert trees == [
        SourceTree(root, "folder"),
        SourceTree(root / "folder"),
        SourceTree(root / "src"),
    ]
    assert sys.path == path_before


@pytest.mark.parametrize("name", ["no_such_module", "not-an-identifier", "a.b", "sys", "math"])
def test_resolve_targets_raises_for_what_is_no_source(root: Path, name: str) -> None:
    path_before = list(sys.path)
    with pytest.raises(PackageNotFoundError) as caught:
        resolve_targets([name], root=root)
    assert caught.value.target == name
    assert sys.path == path_before
