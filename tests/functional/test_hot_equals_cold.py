"""Real import shapes and failures where a reload must do what a cold start does.

Each test names the bug it guards (issue "Hot equals cold on real code"); each
fails when its fix is reverted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from staticreload import LiveReload, Reloader, ReloadResult
from tests.conftest import WriteProject
from tests.servers import wait_until

TIMEOUT_S = 15.0


@pytest.fixture
def make_reloader() -> Iterator[Callable[..., Reloader]]:
    made: list[Reloader] = []

    def make(target: str, root: Path) -> Reloader:
        reloader = Reloader.from_targets(target, root=root)
        reloader.install()
        made.append(reloader)
        return reloader

    yield make
    for reloader in made:
        reloader.uninstall()


class Results:
    """Reload results as the post-reload hook sees them, with a bounded wait."""

    def __init__(self, reloader: Reloader) -> None:
        self.items: list[ReloadResult] = []
        self._condition = threading.Condition()
        reloader.add_post_reload_hook(self._add)

    def _add(self, result: ReloadResult) -> None:
        with self._condition:
            self.items.append(result)
            self._condition.notify_all()

    def wait_for(self, predicate: Callable[[list[ReloadResult]], bool]) -> None:
        with self._condition:
            assert self._condition.wait_for(lambda: predicate(self.items), TIMEOUT_S), self.items


def cold(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with ``root`` on ``sys.path``."""
    return subprocess.run(
        [sys.executable, "-B", "-c", f"import sys; sys.path.insert(0, {str(root)!r})\n{code}"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_rollback_keeps_installed_modules_loaded(
    project: WriteProject, make_reloader: Callable[..., Reloader]
) -> None:
    """An edit that adds an import of a library and then fails: the library stays loaded.

    A C extension refuses a second load in one process ("cannot load module
    more than once per process"), so only the project's modules may leave
    ``sys.modules`` on rollback.
    """
    library = next(
        name
        for name in ("colorsys", "wave", "sndhdr", "tomllib", "netrc")
        if name not in sys.modules
    )
    root = project({"app/__init__.py": "", "app/views.py": "X = 1\n"})
    reloader = make_reloader("app", root)
    import app.views  # noqa: F401

    (root / "app/views.py").write_text(f"import {library}\nX = 1 / 0\n")
    assert reloader.reload_paths([root / "app/views.py"]).rolled_back
    assert library in sys.modules
    loaded = sys.modules[library]
    (root / "app/views.py").write_text(f"import {library}\nX = 2\n")
    assert reloader.reload_paths([root / "app/views.py"]).ok
    assert sys.modules["app.views"].X == 2
    assert sys.modules[library] is loaded  # never imported a second time


def test_undoing_a_syntax_error_recovers(project: WriteProject) -> None:
    """Saving the file back as it was must reload it ("saved without changes" was wrong)."""
    root = project({"web/__init__.py": "", "web/views.py": "VERSION = 1\n"})
    reloader = Reloader.from_targets("web", root=root)
    reloader.install()
    import web.views  # noqa: F401

    results = Results(reloader)
    with LiveReload(reloader, debounce_s=0.05):
        (root / "web/views.py").write_text("VERSION = (\n")
        results.wait_for(lambda items: any(not r.ok for r in items))
        (root / "web/views.py").write_text("VERSION = 1\n")  # the original content
        results.wait_for(lambda items: bool(items) and items[-1].ok)
    assert not reloader.failing
    assert "web.views" in results.items[-1].reloaded


@pytest.mark.parametrize("raised", ["KeyboardInterrupt", "SystemExit(3)"])
def test_keyboard_interrupt_or_system_exit_at_import_time_is_a_failed_reload(
    project: WriteProject, raised: str
) -> None:
    """The watcher thread must survive: the next edit is reloaded."""
    root = project({"web/__init__.py": "", "web/views.py": "VERSION = 1\n"})
    reloader = Reloader.from_targets("web", root=root)
    reloader.install()
    import web.views  # noqa: F401

    direct = root / "web/views.py"
    direct.write_text(f"raise {raised}\n")
    result = reloader.reload_paths([direct])  # must not raise
    assert result.rolled_back and result.error is not None
    assert result.error.lineno == 1
    results = Results(reloader)
    with LiveReload(reloader, debounce_s=0.05):
        direct.write_text(f"VERSION = 2\nraise {raised}\n")
        results.wait_for(lambda items: any(not r.ok for r in items))
        direct.write_text("VERSION = 3\n")
        results.wait_for(lambda items: sys.modules["web.views"].VERSION == 3)


def test_a_module_getattr_that_raises_does_not_escape(
    project: WriteProject, make_reloader: Callable[..., Reloader]
) -> None:
    """The dispose hook is looked up in the module's namespace, not through ``__getattr__``."""
    source = "def __getattr__(name):\n    raise KeyError(name)\nX = {x}\n"
    root = project({"app/__init__.py": "", "app/lazy.py": source.format(x=1)})
    reloader = make_reloader("app", root)
    import app.lazy  # noqa: F401

    (root / "app/lazy.py").write_text(source.format(x=2))
    assert reloader.reload_paths([root / "app/lazy.py"]).ok
    assert sys.modules["app.lazy"].X == 2


def test_an_expression_too_deep_to_compile_is_a_failed_reload(
    project: WriteProject, make_reloader: Callable[..., Reloader]
) -> None:
    """``RecursionError`` from the compiler is reported, nothing evicted."""
    root = project({"app/__init__.py": "", "app/data.py": "X = 1\n"})
    reloader = make_reloader("app", root)
    import app.data

    (root / "app/data.py").write_text("X = " + "+".join(["1"] * 100_000) + "\n")
    result = reloader.reload_paths([root / "app/data.py"])
    assert not result.ok and not result.rolled_back
    assert result.error is not None and "Recursion" in result.error.reason
    assert sys.modules["app.data"] is app.data


def test_a_project_reached_through_a_symlink_keeps_its_file_names(
    tmp_path: Path, make_reloader: Callable[..., Reloader]
) -> None:
    """``__file__`` stays the path the module was imported from, not the resolved one."""
    real = tmp_path / "real"
    (real / "app").mkdir(parents=True)
    (real / "app/__init__.py").write_text("")
    (real / "app/views.py").write_text("X = 1\n")
    link = tmp_path / "link"
    link.symlink_to(real)
    sys.path.insert(0, str(link))
    reloader = make_reloader("app", link)
    import app.views

    before = app.views.__file__
    assert before.startswith(str(link))
    (real / "app/views.py").write_text("X = 2\n")
    assert reloader.reload_paths([link / "app/views.py"]).ok
    assert sys.modules["app.views"].__file__ == before
    assert sys.modules["app.views"].X == 2


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_a_compiled_extension_beside_its_source_stays_the_extension(
    tmp_path: Path, make_reloader: Callable[..., Reloader]
) -> None:
    """As in a fresh process, the import system prefers the extension to the ``.py``."""
    package = tmp_path / "fastpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "speed.py").write_text("KIND = 'python'\n")
    (package / "user.py").write_text("from fastpkg import speed\nKIND = speed.KIND\n")
    c_source = tmp_path / "speed.c"
    c_source.write_text(
        "#include <Python.h>\n"
        'static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "speed", 0, -1, 0};\n'
        "PyMODINIT_FUNC PyInit_speed(void) {\n"
        "    PyObject *m = PyModule_Create(&def);\n"
        '    if (m) PyModule_AddStringConstant(m, "KIND", "extension");\n'
        "    return m;\n}\n"
    )
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    include = sysconfig.get_paths()["include"]
    built = subprocess.run(
        [
            "cc",
            "-shared",
            "-fPIC",
            f"-I{include}",
            str(c_source),
            "-o",
            str(package / f"speed{suffix}"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if built.returncode != 0:
        pytest.skip(f"cannot build a test extension: {built.stderr[:200]}")
    sys.path.insert(0, str(tmp_path))
    reloader = make_reloader("fastpkg", tmp_path)
    import fastpkg.user

    assert fastpkg.user.KIND == "extension"
    (package / "user.py").write_text("from fastpkg import speed\nKIND = speed.KIND + '!'\n")
    (package / "speed.py").write_text("KIND = 'python, edited'\n")
    assert reloader.reload_paths([package / "speed.py", package / "user.py"]).ok
    assert sys.modules["fastpkg.user"].KIND == "extension!"


def test_an_import_removed_from_an_init_fails_as_in_a_cold_start(
    project: WriteProject, make_reloader: Callable[..., Reloader]
) -> None:
    """``pkg.sub`` must not stay reachable from the new package when nothing imports it."""
    root = project(
        {
            "pkg/__init__.py": "from . import sub\n",
            "pkg/sub.py": "V = 1\n",
            "user.py": "import pkg\nX = pkg.sub.V\n",
        }
    )
    reloader = make_reloader(str(root), root)
    import pkg  # noqa: F401  (pkg.sub's first import is recorded before user's)
    import user  # noqa: F401

    (root / "pkg/__init__.py").write_text("")
    result = reloader.reload_paths([root / "pkg/__init__.py"])
    expected = cold(root, "import pkg\nimport user")
    assert expected.returncode != 0 and "has no attribute 'sub'" in expected.stderr
    assert not result.ok and result.error is not None
    assert "has no attribute 'sub'" in result.error.reason


def test_a_broken_file_nothing_imports_is_only_a_warning(
    project: WriteProject, make_reloader: Callable[..., Reloader], caplog: pytest.LogCaptureFixture
) -> None:
    """A scratch or Python 2 file never stops the map, nor blocks later reloads."""
    root = project(
        {
            "app/__init__.py": "",
            "app/views.py": "X = 1\n",
            "app/scratch.py": "print 'python 2'\n",
        }
    )
    reloader = make_reloader("app", root)
    assert "app.scratch" not in reloader.map
    import app.views  # noqa: F401

    (root / "app/scratch.py").write_text("print 'still python 2'\n")
    assert reloader.reload_paths([root / "app/scratch.py"]).ok
    assert "scratch.py" in caplog.text
    (root / "app/views.py").write_text("X = 2\n")
    result = reloader.reload_paths([root / "app/views.py"])
    assert result.ok and result.reloaded == ("app.views",)
    assert not reloader.failing


def test_delete_then_create_is_one_modification(project: WriteProject) -> None:
    """``git checkout`` and safe-write editors: no failed reload, importers run once.

    The events are fed by hand (no inotify), so the deletion is seen before
    the file is back, whatever the machine's load.
    """
    root = project(
        {
            "web/__init__.py": "",
            "web/views.py": "VERSION = 1\n",
            "web/page.py": "from web.views import VERSION\nimport builtins\n"
            "builtins.PAGE_RUNS = getattr(builtins, 'PAGE_RUNS', 0) + 1\n",
        }
    )
    reloader = Reloader.from_targets("web", root=root)
    reloader.install()
    import builtins

    import web.page  # noqa: F401

    results = Results(reloader)
    views = root / "web/views.py"
    live = LiveReload(reloader, debounce_s=0.5, observer_factory=None)
    try:
        with live:
            views.unlink()
            live.watcher.events.put(str(views))
            wait_until(live.watcher.events.empty)  # taken: the file is missing now
            views.write_text("VERSION = 2\n")
            live.watcher.events.put(str(views))
            results.wait_for(lambda _: sys.modules["web.page"].VERSION == 2)
        assert all(r.ok for r in results.items), results.items
        assert builtins.PAGE_RUNS == 2  # type: ignore[attr-defined]
    finally:
        vars(builtins).pop("PAGE_RUNS", None)


def test_namespace_packages_are_reloaded(
    project: WriteProject, make_reloader: Callable[..., Reloader]
) -> None:
    """Folders without ``__init__.py`` (PEP 420) are packages too."""
    root = project(
        {
            "nsapp/web/views.py": "def hello():\n    return 'v1'\n",
            "nsapp/wsgi.py": "from nsapp.web import views\nGREETING = views.hello()\n",
        }
    )
    reloader = make_reloader("nsapp", root)
    assert reloader.map.modules == ["nsapp.web.views", "nsapp.wsgi"]
    import nsapp.wsgi

    assert nsapp.wsgi.GREETING == "v1"
    (root / "nsapp/web/views.py").write_text("def hello():\n    return 'v2'\n")
    result = reloader.reload_paths([root / "nsapp/web/views.py"])
    assert set(result.reloaded) == {"nsapp.wsgi", "nsapp.web.views"}
    assert sys.modules["nsapp.wsgi"].GREETING == "v2"


def test_an_optional_module_created_later_reloads_its_importer(
    project: WriteProject, make_reloader: Callable[..., Reloader]
) -> None:
    """``try: import`` of a module that does not exist yet, by name at run time."""
    root = project(
        {
            "app/__init__.py": "",
            "app/settings.py": (
                "import importlib\nDEBUG = False\n"
                "try:\n    DEBUG = importlib.import_module('app.' + 'local').DEBUG\n"
                "except ImportError:\n    pass\n"
            ),
        }
    )
    reloader = make_reloader("app", root)
    import app.settings

    assert app.settings.DEBUG is False
    (root / "app/local.py").write_text("DEBUG = True\n")  # no invalidate_caches: the reloader's job
    result = reloader.reload_paths([root / "app/local.py"])
    assert result.ok and "app.settings" in result.reloaded
    assert sys.modules["app.settings"].DEBUG is True


def test_an_import_at_request_time_becomes_an_edge(
    project: WriteProject, make_reloader: Callable[..., Reloader]
) -> None:
    """``importlib.import_module`` in a view, cached in a dict: the plugin edit is served."""
    root = project(
        {
            "app/__init__.py": "",
            "app/plugins.py": (
                "import importlib\n_cache = {}\n"
                "def get(name):\n"
                "    if name not in _cache:\n"
                "        _cache[name] = importlib.import_module('app.' + name)\n"
                "    return _cache[name]\n"
            ),
            "app/plug.py": "def hello():\n    return 'v1'\n",
        }
    )
    reloader = make_reloader("app", root)
    import app.plugins

    assert app.plugins.get("plug").hello() == "v1"  # after every module body has run
    (root / "app/plug.py").write_text("def hello():\n    return 'v2'\n")
    result = reloader.reload_paths([root / "app/plug.py"])
    assert set(result.reloaded) == {"app.plugins", "app.plug"}
    assert sys.modules["app.plugins"].get("plug").hello() == "v2"


def test_import_a_b_c_rebinds_the_new_package(
    project: WriteProject, make_reloader: Callable[..., Reloader]
) -> None:
    """``import pkg.sub`` binds ``pkg``: editing ``pkg/__init__.py`` must re-run the importer.

    Imported before the reloader exists, so only the map's edges count (no
    recorded ones); one importer is a loose module (``ast`` scan), one is in a
    package (grimp scan).
    """
    importer = "import pkg.sub\ndef name():\n    return pkg.NAME\n"
    root = project(
        {
            "pkg/__init__.py": "NAME = 'v1'\n",
            "pkg/sub.py": "X = 1\n",
            "user.py": importer,
            "app/__init__.py": "",
            "app/user.py": importer,
        }
    )
    import app.user
    import user

    assert user.name() == app.user.name() == "v1"
    reloader = make_reloader(str(root), root)
    (root / "pkg/__init__.py").write_text("NAME = 'v2'\n")
    assert reloader.reload_paths([root / "pkg/__init__.py"]).ok
    for name in ("user", "app.user"):
        assert sys.modules[name].name() == "v2", name
        assert sys.modules[name].pkg is sys.modules["pkg"]
    assert os.path.basename(sys.modules["pkg"].sub.__file__) == "sub.py"


def test_the_watcher_survives_a_base_exception_from_a_hook(project: WriteProject) -> None:
    """A hook is user code: ``SystemExit`` from it must not end the watcher thread."""
    root = project({"web/__init__.py": "", "web/views.py": "VERSION = 1\n"})
    reloader = Reloader.from_targets("web", root=root)
    reloader.install()
    import web.views  # noqa: F401

    results = Results(reloader)
    raised: list[ReloadResult] = []

    def hook(result: ReloadResult) -> None:
        if not raised:
            raised.append(result)
            raise SystemExit(3)

    reloader.add_post_reload_hook(hook)
    with LiveReload(reloader, debounce_s=0.05):
        (root / "web/views.py").write_text("VERSION = 2\n")
        results.wait_for(lambda _: bool(raised))
        (root / "web/views.py").write_text("VERSION = 3\n")
        results.wait_for(lambda _: sys.modules["web.views"].VERSION == 3)
