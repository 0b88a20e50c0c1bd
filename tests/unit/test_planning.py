"""ChangePlanner against the map of a project in ``tmp_path``: nothing is imported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from staticreload import DependencyMap, ReloadError
from staticreload.planning import ChangePlanner
from tests.conftest import WriteProject

PROJECT = {
    "pkg/__init__.py": "",
    "pkg/util.py": "X = 1\n",
    "pkg/models.py": "from pkg import util\n",
    "pkg/views.py": "from pkg import models\n",
    "pkg/main.py": "import pkg.views\n",
    "pkg/heavy.py": "from pkg import util\n",
    "pkg/sub/__init__.py": "",
    "pkg/sub/deep.py": "from .. import models\n",
    "pkg/data/c.py": "",  # no __init__.py: not a module
    "pkg/notes.txt": "",
    "pkg/__pycache__/util.py": "",
}
EVERYTHING = frozenset(
    {"pkg", "pkg.util", "pkg.models", "pkg.views", "pkg.main", "pkg.heavy", "pkg.sub"}
    | {"pkg.sub.deep"}
)


@pytest.fixture
def root(project: WriteProject) -> Path:
    return project(PROJECT).resolve()


def planner_for(root: Path, *, exclude: tuple[str, ...] = ()) -> ChangePlanner:
    return ChangePlanner(DependencyMap.build("pkg", root=root), exclude=exclude)


def files(root: Path, *names: str) -> set[Path]:
    return {root / name for name in names}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ("pkg/util.py", ["pkg/util.py"]),
        ("pkg/sub/../util.py", ["pkg/util.py"]),  # normalised
        ("pkg/new.py", ["pkg/new.py"]),  # not there yet: would be a module
        ("pkg/sub/__init__.py", ["pkg/sub/__init__.py"]),
        ("pkg/data/c.py", []),
        ("pkg/notes.txt", []),
        ("pkg/__pycache__/util.py", []),
        ("pkg/.util.py.swp", []),
        ("pkg/../outside.py", []),
        ("pkg/../../outside.py", []),
        ("pkg/sub", ["pkg/sub/__init__.py", "pkg/sub/deep.py"]),  # a folder: the files in it
    ],
)
def test_files_for(root: Path, changed: str, expected: list[str]) -> None:
    (root / "outside.py").write_text("")
    assert planner_for(root).files_for([root / changed]) == files(root, *expected)


def test_files_for_a_deleted_folder_are_the_files_the_map_knew(root: Path) -> None:
    planner = planner_for(root)
    shutil.rmtree(root / "pkg" / "sub")
    assert planner.files_for([root / "pkg" / "sub"]) == files(
        root, "pkg/sub/__init__.py", "pkg/sub/deep.py"
    )


def test_files_for_a_moved_folder_are_both_ends(root: Path) -> None:
    planner = planner_for(root)
    (root / "pkg" / "sub").rename(root / "pkg" / "moved")
    found = planner.files_for([root / "pkg" / "sub", root / "pkg" / "moved"])
    assert found == files(
        root,
        "pkg/sub/__init__.py",
        "pkg/sub/deep.py",
        "pkg/moved/__init__.py",
        "pkg/moved/deep.py",
    )


def test_files_for_symlinks_are_judged_by_their_target(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.py").write_text("")
    planner = planner_for(root)
    (root / "pkg" / "alias.py").symlink_to(root / "pkg" / "util.py")
    (root / "pkg" / "escape.py").symlink_to(outside / "o.py")
    (root / "pkg" / "linked").symlink_to(outside, target_is_directory=True)
    assert planner.files_for([root / "pkg" / "alias.py"]) == files(root, "pkg/util.py")
    assert planner.files_for([root / "pkg" / "escape.py"]) == set()
    assert planner.files_for([root / "pkg" / "linked" / "o.py"]) == set()
    assert planner.files_for([root / "pkg" / "linked"]) == set()


def test_a_folder_event_never_stands_for_a_file_outside_through_a_symlink(
    root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.py").write_text("")
    planner = planner_for(root)
    (root / "pkg" / "sub" / "escape.py").symlink_to(outside / "o.py")
    found = planner.files_for([root / "pkg" / "sub"])
    assert all(path.is_relative_to(root) for path in found), sorted(found)


def test_pending_retries_a_failed_reload_until_one_succeeds(root: Path) -> None:
    planner = planner_for(root)
    util, models = root / "pkg" / "util.py", root / "pkg" / "models.py"
    assert not planner.failing
    assert planner.pending({util}) == {util}
    planner.record({models}, {"pkg.models"}, ok=False)
    assert planner.failing
    assert planner.pending({util}) == {util, models}
    assert planner.pending(set()) == {models}
    planner.record({util, models}, {"pkg.models", "pkg.util"}, ok=True)
    assert not planner.failing
    assert planner.pending(set()) == set()


def test_pending_leaves_out_excluded_modules_new_ones_too(root: Path) -> None:
    planner = planner_for(root, exclude=("pkg.heav*", "pkg.sub.*"))
    changed = files(root, "pkg/heavy.py", "pkg/heavy2.py", "pkg/sub/deep.py", "pkg/util.py")
    assert planner.pending(changed) == files(root, "pkg/util.py")
    assert planner.is_excluded("pkg.heavy") and not planner.is_excluded("pkg.sub")


def test_plan_is_the_closure_of_the_loaded_modules(root: Path) -> None:
    planner = planner_for(root)
    plan = planner.plan(files(root, "pkg/util.py"), EVERYTHING)
    assert plan.changed == ("pkg.util",)
    assert plan.affected == {
        "pkg.util",
        "pkg.models",
        "pkg.heavy",
        "pkg.views",
        "pkg.main",
        "pkg.sub.deep",
    }
    plan = planner.plan(files(root, "pkg/util.py"), {"pkg.util", "pkg.views", "json"})
    assert plan.affected == {"pkg.util", "pkg.views"}  # only what is loaded
    plan = planner.plan(files(root, "pkg/views.py"), set())
    assert plan.changed == ("pkg.views",) and plan.affected == frozenset()


def test_plan_leaves_out_excluded_modules(root: Path) -> None:
    planner = planner_for(root, exclude=("pkg.main", "pkg.sub*"))
    plan = planner.plan(files(root, "pkg/util.py"), EVERYTHING)
    assert plan.affected == {"pkg.util", "pkg.models", "pkg.heavy", "pkg.views"}
    assert planner.everything_loaded(EVERYTHING | {"json"}) == EVERYTHING - {
        "pkg.main",
        "pkg.sub",
        "pkg.sub.deep",
    }


def test_plan_takes_the_closure_before_the_update_for_a_deleted_module(root: Path) -> None:
    planner = planner_for(root)
    (root / "pkg" / "models.py").unlink()
    plan = planner.plan(files(root, "pkg/models.py"), EVERYTHING)
    assert plan.changed == ("pkg.models",)
    assert plan.affected == {"pkg.models", "pkg.views", "pkg.main", "pkg.sub.deep"}
    assert "pkg.models" not in planner.map


def test_plan_takes_the_closure_after_the_update_for_a_new_module(root: Path) -> None:
    (root / "pkg" / "heavy.py").write_text("from pkg import util, fresh\n")
    planner = planner_for(root)
    (root / "pkg" / "fresh.py").write_text("")
    plan = planner.plan(files(root, "pkg/fresh.py"), EVERYTHING | {"pkg.fresh"})
    assert plan.changed == ("pkg.fresh",)
    assert plan.affected == {"pkg.fresh", "pkg.heavy"}
    assert planner.map.dependencies("pkg.heavy") == {"pkg.util", "pkg.fresh"}


def test_plan_follows_imports_added_and_removed_in_the_same_edit(root: Path) -> None:
    planner = planner_for(root)
    (root / "pkg" / "views.py").write_text("from pkg import heavy\n")
    plan = planner.plan(files(root, "pkg/views.py"), EVERYTHING)
    assert plan.affected == {"pkg.views", "pkg.main"}
    assert planner.plan(files(root, "pkg/models.py"), EVERYTHING).affected == {
        "pkg.models",
        "pkg.sub.deep",
    }
    assert "pkg.views" in planner.plan(files(root, "pkg/heavy.py"), EVERYTHING).affected


def test_plan_adds_what_a_failed_reload_tried(root: Path) -> None:
    planner = planner_for(root)
    planner.record(files(root, "pkg/heavy.py"), {"pkg.heavy", "pkg.sub"}, ok=False)
    plan = planner.plan(files(root, "pkg/main.py"), EVERYTHING)
    assert plan.affected == {"pkg.main", "pkg.heavy", "pkg.sub"}


def test_plan_raises_for_a_loaded_file_that_cannot_be_parsed(root: Path) -> None:
    planner = planner_for(root)
    edges_before = set(planner.map.graph.edges)
    (root / "pkg" / "models.py").write_text("import pkg.heavy\ndef broken(:\n")
    with pytest.raises(ReloadError) as caught:
        planner.plan(files(root, "pkg/models.py"), EVERYTHING)
    assert caught.value.module == "pkg.models"
    assert caught.value.path == str(root / "pkg" / "models.py")
    assert caught.value.lineno == 2
    assert set(planner.map.graph.edges) == edges_before
