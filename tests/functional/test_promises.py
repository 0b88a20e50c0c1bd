"""Promises of the reloader that no other test protected: each was broken in the code
while the whole suite stayed green. Every test here fails when its promise is broken.
"""

from __future__ import annotations

import builtins
import importlib
import os
import py_compile
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from staticreload import Reloader
from tests.conftest import WriteProject

MakeReloader = Callable[..., Reloader]


@pytest.fixture
def make_reloader() -> Iterator[MakeReloader]:
    made: list[Reloader] = []

    def make(*targets: object, **options: object) -> Reloader:
        reloader = Reloader.from_targets(*targets, **options)  # type: ignore[arg-type]
        reloader.install()
        made.append(reloader)
        return reloader

    yield make
    for reloader in made:
        reloader.uninstall()


def rewrite_keeping_size_and_mtime(path: Path, text: str) -> None:
    """Write ``text`` (as long as the old content) and put the old mtime back."""
    stat = path.stat()
    assert len(text.encode()) == stat.st_size
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_stale_bytecode_of_a_changed_module_that_is_not_loaded_is_removed(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    root = project({"lazy/__init__.py": "", "lazy/later.py": "VALUE = 1\n"})
    source = root / "lazy" / "later.py"
    py_compile.compile(
        str(source), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP
    )
    reloader = make_reloader("lazy", root=root)
    import lazy  # noqa: F401  the package only: lazy.later is not loaded

    rewrite_keeping_size_and_mtime(source, "VALUE = 2\n")  # the .pyc still looks valid
    result = reloader.reload_paths([source])
    assert result.ok, result.error
    assert result.changed == ("lazy.later",) and result.reloaded == ()
    assert "lazy.later" not in sys.modules
    assert importlib.import_module("lazy.later").VALUE == 2


def test_a_new_file_is_found_although_its_folder_looks_unchanged(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    """The path finder caches each folder's listing until the folder's mtime moves;
    an mtime can stay put within its resolution, so the reloader clears the caches."""
    root = project({"grow/__init__.py": "", "grow/main.py": "X = 1\n"})
    reloader = make_reloader("grow", root=root)
    import grow.main

    assert grow.main.X == 1
    folder = root / "grow"
    folder_stat = folder.stat()
    (folder / "fresh.py").write_text("Y = 2\n")  # not through `project`: no invalidate_caches()
    (folder / "main.py").write_text("from grow import fresh\nX = fresh.Y\n")
    os.utime(folder, ns=(folder_stat.st_atime_ns, folder_stat.st_mtime_ns))
    result = reloader.reload_paths([folder / "fresh.py", folder / "main.py"])
    assert result.ok, result.error
    assert sys.modules["grow.main"].X == 2


def test_every_changed_file_is_compiled_before_anything_is_evicted(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    """``return`` at module level parses (the map accepts it) but does not compile."""
    root = project(
        {
            "early/__init__.py": "",
            "early/a.py": "A = 1\n",
            "early/b.py": "from early.a import A\nB = A\n",
        }
    )
    reloader = make_reloader("early", root=root)
    import early.b  # noqa: F401

    hooked: list[object] = []
    reloader.add_pre_reload_hook(hooked.append)
    (root / "early" / "b.py").write_text("from early.a import A\nB = A + 1\n")  # fine
    (root / "early" / "a.py").write_text("A = 2\nreturn\n")  # compiles only in a function
    modules_before = list(sys.modules.items())
    result = reloader.reload_paths([root / "early" / "a.py", root / "early" / "b.py"])
    assert not result.ok
    assert not result.rolled_back
    assert result.error is not None
    assert result.error.lineno == 2 and result.error.path == str(root / "early" / "a.py")
    assert list(sys.modules.items()) == modules_before  # the same modules, in the same order
    assert hooked == []  # no module was about to be evicted


def test_importers_of_a_deleted_loose_module_get_their_edges_back(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    root = project(
        {
            "loose_app.py": "import loose_helpers\nNAME = loose_helpers.NAME\n",
            "loose_helpers.py": "NAME = 'v1'\n",
        }
    )
    reloader = make_reloader(root, root=root)
    helpers = root / "loose_helpers.py"
    assert reloader.map.dependencies("loose_app") == {"loose_helpers"}
    helpers.unlink()
    reloader.reload_paths([helpers])
    assert "loose_helpers" not in reloader.map
    helpers.write_text("NAME = 'v2'\n")
    assert reloader.reload_paths([helpers]).ok
    assert reloader.map.dependencies("loose_app") == {"loose_helpers"}

    import loose_app

    assert loose_app.NAME == "v2"
    helpers.write_text("NAME = 'v3'\n")
    result = reloader.reload_paths([helpers])
    assert set(result.reloaded) == {"loose_helpers", "loose_app"}
    assert sys.modules["loose_app"].NAME == "v3"


def test_a_package_running_again_can_reach_a_submodule_that_stays_loaded(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    """``import pkg.sub; pkg.sub.X`` in ``pkg/__init__.py``: the loaded ``pkg.sub``
    is handed back, and set on the new ``pkg``, the moment it is imported."""
    init = "import parent.child\nSEEN = parent.child.TOKEN\nVERSION = {version}\n"
    root = project(
        {
            "parent/__init__.py": init.format(version=1),
            "parent/child.py": "TOKEN = object()  # a new one each time this runs\n",
        }
    )
    reloader = make_reloader("parent", root=root)
    import parent

    child = sys.modules["parent.child"]
    (root / "parent" / "__init__.py").write_text(init.format(version=2))
    result = reloader.reload_paths([root / "parent" / "__init__.py"])
    assert result.ok, result.error
    assert result.reloaded == ("parent",)
    reloaded = sys.modules["parent"]
    assert reloaded is not parent and reloaded.VERSION == 2
    assert reloaded.SEEN is child.TOKEN  # the loaded child, not run again
    assert sys.modules["parent.child"] is child
    assert reloaded.child is child


def test_from_dot_x_import_x_keeps_the_function_after_the_package_reloads(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    root = project(
        {
            "tools/__init__.py": "from .bridges import bridges\nVERSION = 1\n",
            "tools/bridges.py": "def bridges():\n    return 'function'\n",
            "tools/other.py": "X = 1\n",
            "user.py": "import tools\nimport tools.other\n",
        }
    )
    reloader = make_reloader(root, root=root)
    import user  # noqa: F401

    assert callable(sys.modules["tools"].bridges)
    (root / "tools" / "__init__.py").write_text("from .bridges import bridges\nVERSION = 2\n")
    result = reloader.reload_paths([root / "tools" / "__init__.py"])
    assert result.ok, result.error
    tools = sys.modules["tools"]
    assert tools.VERSION == 2
    assert tools.bridges() == "function"  # not the submodule tools.bridges
    assert tools.other is sys.modules["tools.other"]  # other submodules are back


def test_all_built_from_globals_gains_no_submodule_names(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    init = (
        "from exports.helpers import helper\n"
        "VERSION = {version}\n"
        "__all__ = sorted(name for name in globals() if not name.startswith('_'))\n"
    )
    root = project(
        {
            "exports/__init__.py": init.format(version=1),
            "exports/helpers.py": "def helper():\n    return 1\n",
            "exports/views.py": "X = 1\n",
            "exports/models.py": "Y = 1\n",
        }
    )
    reloader = make_reloader("exports", root=root)
    import exports.models
    import exports.views

    cold = list(exports.__all__)
    assert cold == ["VERSION", "helper", "helpers"]
    (root / "exports" / "__init__.py").write_text(init.format(version=2))
    result = reloader.reload_paths([root / "exports" / "__init__.py"])
    assert result.ok, result.error
    reloaded = sys.modules["exports"]
    assert reloaded.VERSION == 2
    assert reloaded.__all__ == cold
    assert reloaded.views is sys.modules["exports.views"]  # attached after __init__ ran


def test_duration_is_the_time_the_reload_took(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    root = project(
        {
            "timed/__init__.py": "",
            "timed/slow.py": "import time\ntime.sleep(0.05)\nX = 1\n",  # some time to measure
        }
    )
    reloader = make_reloader("timed", root=root)
    import timed.slow  # noqa: F401

    (root / "timed" / "slow.py").write_text("import time\ntime.sleep(0.05)\nX = 2\n")
    started = time.perf_counter()
    result = reloader.reload_paths([root / "timed" / "slow.py"])
    wall_s = time.perf_counter() - started
    assert result.ok and sys.modules["timed.slow"].X == 2
    assert 0.05 <= result.duration_s <= wall_s


def test_dispose_hooks_do_not_run_for_a_reload_that_stops_at_compile(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    root = project(
        {
            "disposing/__init__.py": "",
            "disposing/a.py": (
                "import builtins\ndef __staticreload_dispose__():\n    builtins.DISPOSED_A = True\n"
            ),
        }
    )
    reloader = make_reloader("disposing", root=root)
    import disposing.a  # noqa: F401

    (root / "disposing" / "a.py").write_text("return 1\n")
    try:
        result = reloader.reload_paths([root / "disposing" / "a.py"])
        assert not result.ok and not result.rolled_back
        assert not hasattr(builtins, "DISPOSED_A")
    finally:
        vars(builtins).pop("DISPOSED_A", None)
