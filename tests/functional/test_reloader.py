"""Reloader.reload_paths on real files and real imports."""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from staticreload import Reloader, ReloadError, ReloadResult
from tests.conftest import WriteProject
from tests.servers import wait_until

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


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


CHAIN = {
    "app/__init__.py": "",
    "app/config.py": "RATE = 2\n",
    "app/models.py": "from app.config import RATE\ndef price(x):\n    return x * RATE\n",
    "app/views.py": "from app import models\nPAGE = models.price(10)\n",
    "app/main.py": "import app.views\nTITLE = 'page %d' % app.views.PAGE\n",
    "app/heavy.py": "import random\nSTATE = random.random()\nLOADS = []\n",
}


@pytest.fixture
def chain(project: WriteProject) -> Path:
    return project(CHAIN)


def test_leaf_edit_reloads_the_chain_of_importers(chain: Path, make_reloader: MakeReloader) -> None:
    reloader = make_reloader("app", root=chain)
    import app.heavy
    import app.main

    heavy = app.heavy
    heavy.LOADS.append("kept")
    assert app.main.TITLE == "page 20"

    write(chain / "app/config.py", "RATE = 3\n")
    result = reloader.reload_paths([chain / "app/config.py"])

    assert result.ok and not result.rolled_back
    assert result.changed == ("app.config",)
    assert set(result.reloaded) == {"app.config", "app.models", "app.views", "app.main"}
    assert result.reloaded.index("app.main") < result.reloaded.index("app.views")  # start order
    assert sys.modules["app.main"].TITLE == "page 30"
    assert sys.modules["app.heavy"] is heavy and heavy.LOADS == ["kept"]  # outside the closure
    assert reloader.generation == 1


def test_from_import_sees_the_new_name_and_deleted_names_are_gone(
    chain: Path, make_reloader: MakeReloader
) -> None:
    reloader = make_reloader("app", root=chain)
    import app.views

    write(chain / "app/models.py", "from app.config import RATE\ndef price(x):\n    return -x\n")
    assert reloader.reload_paths([chain / "app/models.py"]).ok
    assert sys.modules["app.views"].PAGE == -10
    write(chain / "app/config.py", "OTHER = 1\n")
    result = reloader.reload_paths([chain / "app/config.py"])
    assert not result.ok  # models still imports RATE: a fresh process would fail too
    assert isinstance(result.error, ReloadError)
    assert result.error.module == "app.models" and result.error.lineno == 1
    assert isinstance(result.error.__cause__, ImportError)
    assert sys.modules["app.config"].RATE == 2  # rolled back to the old module
    assert app.views.PAGE == -10


def test_package_reexports_and_parent_attributes(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    root = project(
        {
            "pkg/__init__.py": "from pkg.core import VALUE\nfrom pkg import core\n",
            "pkg/core.py": "VALUE = 1\n",
            "pkg/other.py": "X = 'other'\n",
            "user.py": (
                "from pkg import VALUE, core\nimport pkg.other\nSEEN = (VALUE, core.VALUE)\n"
            ),
        }
    )
    reloader = make_reloader(root, root=root)
    import pkg.other
    import user

    write(root / "pkg/core.py", "VALUE = 2\n")
    assert reloader.reload_paths([root / "pkg/core.py"]).ok
    assert sys.modules["user"].SEEN == (2, 2)
    new_pkg = sys.modules["pkg"]
    assert new_pkg is not pkg
    assert new_pkg.other is sys.modules["pkg.other"]  # re-attached: it was not reloaded
    assert new_pkg.core is sys.modules["pkg.core"]
    assert user is not sys.modules["user"]


def test_evicted_submodule_is_not_served_from_its_parent(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    root = project(
        {
            "pkg/__init__.py": "",
            "pkg/sub.py": "N = 1\n",
            "reader.py": "from pkg import sub\nN = sub.N\n",
        }
    )
    reloader = make_reloader(root, root=root)
    import reader  # noqa: F401

    write(root / "pkg/sub.py", "N = 2\n")
    assert reloader.reload_paths([root / "pkg/sub.py"]).ok
    assert sys.modules["reader"].N == 2
    assert sys.modules["pkg"].sub is sys.modules["pkg.sub"]


def test_cycle_entered_through_b_reloads_in_start_order(
    project: WriteProject, make_reloader: MakeReloader
) -> None:
    root = project(
        {
            "cyc/__init__.py": "",
            "cyc/a.py": "from cyc.b import Y\nX = 1\n",
            "cyc/b.py": "Y = 2\nfrom cyc.a import X\nTOTAL = X + Y\n",
        }
    )
    reloader = make_reloader("cyc", root=root)
    import cyc.b

    assert cyc.b.TOTAL == 3
    write(root / "cyc/a.py", "from cyc.b import Y\nX = 10\n")
    result = reloader.reload_paths([root / "cyc/a.py"])
    assert result.ok, result.error
    assert result.reloaded[:2] == ("cyc.b", "cyc.a")
    assert sys.modules["cyc.b"].TOTAL == 12


def test_import_added_and_removed_in_the_same_edit(
    chain: Path, make_reloader: MakeReloader
) -> None:
    reloader = make_reloader("app", root=chain)
    import app.views  # noqa: F401

    write(chain / "app/views.py", "from app import heavy\nPAGE = 'no models'\n")
    assert reloader.reload_paths([chain / "app/views.py"]).ok
    assert reloader.map.dependencies("app.views") == {"app.heavy"}
    # models is no longer imported by views: editing it reloads only itself
    write(chain / "app/models.py", "from app.config import RATE\nNEW = 1\n")
    result = reloader.reload_paths([chain / "app/models.py"])
    assert result.reloaded == ("app.models",)
    write(chain / "app/heavy.py", "STATE = 'edited'\nLOADS = []\n")
    result = reloader.reload_paths([chain / "app/heavy.py"])
    assert set(result.reloaded) == {"app.heavy", "app.views"}


def test_syntax_error_touches_nothing_then_a_fix_recovers(
    chain: Path, make_reloader: MakeReloader
) -> None:
    errors: list[ReloadError] = []
    reloader = make_reloader("app", root=chain)
    reloader.add_error_handler(errors.append)
    import app.main

    old_main = app.main
    modules_before = dict(sys.modules)
    write(chain / "app/models.py", "def price(x):\n    return x *\n")
    result = reloader.reload_paths([chain / "app/models.py"])
    assert not result.ok and not result.rolled_back
    assert result.error is not None and result.error.lineno == 2
    assert result.error.path == str(chain / "app/models.py")
    assert "models.py:2" in str(result.error)
    assert dict(sys.modules) == modules_before
    assert errors == [result.error]

    write(chain / "app/models.py", "def price(x):\n    return x * 5\n")
    assert reloader.reload_paths([chain / "app/models.py"]).ok
    assert sys.modules["app.main"].TITLE == "page 50"
    assert sys.modules["app.main"] is not old_main


def test_exception_at_import_time_rolls_back_then_a_fix_recovers(
    chain: Path, make_reloader: MakeReloader
) -> None:
    reloader = make_reloader("app", root=chain)
    import app.main

    old = {name: sys.modules[name] for name in ("app.config", "app.models", "app.views")}
    write(chain / "app/views.py", "from app import models\nPAGE = 1 / 0\n")
    result = reloader.reload_paths([chain / "app/views.py"])
    assert result.rolled_back and result.reloaded == ()
    assert result.error is not None
    assert (result.error.module, result.error.lineno) == ("app.views", 2)
    assert isinstance(result.error.__cause__, ZeroDivisionError)
    assert all(sys.modules[name] is module for name, module in old.items())
    assert sys.modules["app.main"] is app.main
    assert sys.modules["app"].views is old["app.views"]
    assert reloader.generation == 0

    # an unrelated good edit does not hide the broken file: it is retried
    write(chain / "app/config.py", "RATE = 4\n")
    assert not reloader.reload_paths([chain / "app/config.py"]).ok
    write(chain / "app/views.py", "from app import models\nPAGE = models.price(1)\n")
    result = reloader.reload_paths([chain / "app/views.py"])
    assert result.ok
    assert result.changed == ("app.config", "app.views")
    assert sys.modules["app.main"].TITLE == "page 4"


def test_deleted_and_new_modules(chain: Path, make_reloader: MakeReloader) -> None:
    reloader = make_reloader("app", root=chain)
    import app.main  # noqa: F401

    (chain / "app/models.py").unlink()
    result = reloader.reload_paths([chain / "app/models.py"])
    assert not result.ok and result.rolled_back  # views still imports it
    assert "app.models" in sys.modules

    write(chain / "app/pricing.py", "def price(x):\n    return x + 1\n")
    write(chain / "app/views.py", "from app import pricing\nPAGE = pricing.price(10)\n")
    result = reloader.reload_paths([chain / "app/pricing.py", chain / "app/views.py"])
    assert result.ok, result.error
    assert "app.models" not in sys.modules
    assert "app.pricing" in result.reloaded
    assert sys.modules["app.main"].TITLE == "page 11"
    assert "app.models" not in reloader.map


def test_runtime_import_becomes_an_edge(project: WriteProject, make_reloader: MakeReloader) -> None:
    root = project(
        {
            "plug/__init__.py": "",
            "plug/registry.py": (
                "import importlib\n"
                "NAME = 'plug.' + 'plugin'\n"
                "PLUGIN = importlib.import_module(NAME)\n"
                "GREETING = PLUGIN.hello()\n"
            ),
            "plug/plugin.py": "def hello():\n    return 'v1'\n",
        }
    )
    reloader = make_reloader("plug", root=root)
    assert "plug.plugin" not in reloader.map.dependencies("plug.registry")
    import plug.registry

    assert plug.registry.GREETING == "v1"
    write(root / "plug/plugin.py", "def hello():\n    return 'v2'\n")
    result = reloader.reload_paths([root / "plug/plugin.py"])
    assert set(result.reloaded) == {"plug.plugin", "plug.registry"}
    assert sys.modules["plug.registry"].GREETING == "v2"
    assert reloader.map.graph.edges["plug.registry", "plug.plugin"]["runtime"] is True


def test_same_size_edit_within_a_second_does_not_load_old_bytecode(
    chain: Path, make_reloader: MakeReloader
) -> None:
    reloader = make_reloader("app", root=chain)
    import app.config

    assert app.config.RATE == 2
    path = chain / "app/config.py"
    stat = path.stat()
    for rate in "3456789":
        path.write_text(f"RATE = {rate}\n")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime, same size
        assert reloader.reload_paths([path]).ok
        assert int(rate) == sys.modules["app.config"].RATE


def test_hooks_dispose_and_outside_paths(
    chain: Path, make_reloader: MakeReloader, tmp_path: Path
) -> None:
    write(
        chain / "app/config.py",
        (
            "RATE = 2\nimport builtins\n"
            "def __staticreload_dispose__():\n"
            "    builtins.DISPOSED = getattr(builtins, 'DISPOSED', 0) + 1\n"
        ),
    )
    reloader = make_reloader("app", root=chain)
    import builtins

    import app.config  # noqa: F401

    seen: list[object] = []
    reloader.add_pre_reload_hook(seen.append)
    reloader.add_post_reload_hook(seen.append)
    reloader.add_post_reload_hook(lambda result: 1 / 0)  # a broken hook is logged, not raised
    try:
        result = reloader.reload_paths([chain / "app/config.py"])
        assert builtins.DISPOSED == 1  # type: ignore[attr-defined]
    finally:
        vars(builtins).pop("DISPOSED", None)
    assert seen == [("app.config",), result]
    outside = write(tmp_path / "outside.py", "X = 1\n")
    link = chain / "app" / "link.py"
    link.symlink_to(outside)
    nothing = reloader.reload_paths([outside, link, chain / "app" / ".." / ".." / "outside.py"])
    assert nothing == ReloadResult((), (), nothing.duration_s)


def test_excluded_modules_are_never_reloaded(chain: Path, make_reloader: MakeReloader) -> None:
    reloader = make_reloader("app", root=chain, exclude=["app.hea*"])
    import app.heavy

    write(chain / "app/heavy.py", "STATE = 'edited'\n")
    assert reloader.reload_paths([chain / "app/heavy.py"]).changed == ()
    assert sys.modules["app.heavy"] is app.heavy


def test_reload_waits_for_readers(chain: Path, make_reloader: MakeReloader) -> None:
    reloader = make_reloader("app", root=chain)
    import app.config  # noqa: F401

    results: list[ReloadResult] = []
    reloading = threading.Thread(
        target=lambda: results.append(reloader.reload_paths([chain / "app/config.py"]))
    )
    with reloader.lock.read():
        reloading.start()
        wait_until(lambda: reloader.lock.waiting_writers == 1)  # blocked on our read
        assert not results
    reloading.join(10)
    assert results and results[0].ok


def test_modules_loaded_before_install_use_the_map_order(
    chain: Path, make_reloader: MakeReloader
) -> None:
    importlib.import_module("app.main")
    reloader = make_reloader("app", root=chain)
    write(chain / "app/config.py", "RATE = 7\n")
    result = reloader.reload_paths([chain / "app/config.py"])
    assert result.ok
    assert result.reloaded == ("app.config", "app.models", "app.views", "app.main")
    assert sys.modules["app.main"].TITLE == "page 70"


def test_a_declining_module_is_applied_by_a_restart(
    chain: Path, make_reloader: MakeReloader
) -> None:
    """``__staticreload_decline__`` or ``restart_on``: nothing is evicted, the result says why."""
    write(chain / "app/models.py", "__staticreload_decline__ = True\n" + CHAIN["app/models.py"])
    reloader = make_reloader("app", root=chain, restart_on=["*/heavy.py"])
    import app.heavy
    import app.main

    main, models = app.main, app.models
    write(chain / "app/config.py", "RATE = 5\n")  # models is in the closure of config
    result = reloader.reload_paths([chain / "app/config.py"])
    assert result.ok and result.restart == "app.models sets __staticreload_decline__"
    assert result.reloaded == () and not result.rolled_back
    assert sys.modules["app.main"] is main and sys.modules["app.models"] is models

    write(chain / "app/heavy.py", "STATE = 1\n")
    result = reloader.reload_paths([chain / "app/heavy.py"])
    assert result.restart == "app/heavy.py matches --restart-on */heavy.py"
    assert sys.modules["app.heavy"] is app.heavy

    write(chain / "app/views.py", "from app import models\nPAGE = 1\n")  # views alone: hot
    result = reloader.reload_paths([chain / "app/views.py"])
    assert result.restart is None and set(result.reloaded) == {"app.views", "app.main"}
