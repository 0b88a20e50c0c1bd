"""Application targets: parsing, default watch folders, loading, locating."""

from __future__ import annotations

import sys

import pytest

from staticreload.apps import AppTarget, default_targets, load, locate, parse_target
from staticreload.exceptions import AppLoadError
from tests.conftest import WriteProject

APP = {
    "webapp/__init__.py": "",
    "webapp/main.py": """\
        import webapp.helpers
        NOT_CALLABLE = 3
        def app(environ, start_response):
            return [b"app"]
        class api:
            def app(environ, start_response):
                return [b"api"]
        def create_app():
            return app
        def broken_factory():
            raise RuntimeError("no config")
        """,
    "webapp/helpers.py": "",
    "webapp/needs_missing.py": "import not_installed_anywhere\n",
    "webapp/raises.py": "raise ValueError('at import')\n",
    "loose.py": "def app(environ, start_response):\n    return []\n",
}


@pytest.mark.parametrize(
    ("text", "module", "attribute"),
    [
        ("app:application", "app", "application"),
        ("pkg.mod:app", "pkg.mod", "app"),
        ("pkg.mod:api.app", "pkg.mod", "api.app"),
        ("_private._m:_x", "_private._m", "_x"),
    ],
)
def test_parse_target(text: str, module: str, attribute: str) -> None:
    target = parse_target(text)
    assert target == AppTarget(module, attribute)
    assert str(target) == text


@pytest.mark.parametrize(
    "text",
    [
        "no-colon",
        "nocolon",
        "pkg:",
        ":app",
        "pkg..mod:app",
        "pkg.mod:app.",
        "pkg.mod: app",
        "1pkg:app",
        "pkg:app:extra",
        "pkg/mod.py:app",
        "",
    ],
)
def test_parse_target_rejects(text: str) -> None:
    with pytest.raises(AppLoadError) as raised:
        parse_target(text)
    assert raised.value.target == text
    assert raised.value.reason == "expected 'package.module:attribute'"


def test_load_takes_the_attribute_and_walks_dotted_paths(project: WriteProject) -> None:
    project(APP)
    assert load(AppTarget("webapp.main", "app")) is sys.modules["webapp.main"].app
    assert load(AppTarget("webapp.main", "api.app")) is sys.modules["webapp.main"].api.app


def test_load_calls_a_factory(project: WriteProject) -> None:
    project(APP)
    assert load(AppTarget("webapp.main", "create_app"), factory=True) is (
        sys.modules["webapp.main"].app
    )


@pytest.mark.parametrize(
    ("target", "factory", "reason"),
    [
        ("nosuchpkg.main:app", False, "no module named 'nosuchpkg'"),
        ("webapp.nosuchmodule:app", False, "no module named 'webapp.nosuchmodule'"),
        # A module missing deeper down is the application's import failing.
        ("webapp.needs_missing:app", False, "ModuleNotFoundError: No module named"),
        ("webapp.raises:app", False, "ValueError: at import"),
        ("webapp.main:missing", False, "module 'webapp.main' has no 'missing'"),
        ("webapp.main:api.missing", False, "module 'webapp.main' has no 'missing'"),
        ("webapp.main:NOT_CALLABLE", False, "not a callable application (a int)"),
        ("webapp.main:NOT_CALLABLE", True, "the factory is not callable"),
        ("webapp.main:broken_factory", True, "the factory raised RuntimeError: no config"),
    ],
)
def test_load_errors(project: WriteProject, target: str, factory: bool, reason: str) -> None:
    project(APP)
    with pytest.raises(AppLoadError) as raised:
        load(parse_target(target), factory=factory)
    assert raised.value.target == target
    assert reason in raised.value.reason
    assert "\n" not in str(raised.value)


def test_a_missing_module_named_like_a_prefix_is_not_the_target(project: WriteProject) -> None:
    """``webapp.main_extra`` missing is not ``webapp.main`` missing, and vice versa."""
    project({**APP, "webapp/main_extra.py": "import webapp.mai\n"})
    with pytest.raises(AppLoadError) as raised:
        load(AppTarget("webapp.main_extra", "app"))
    assert raised.value.reason.startswith("ModuleNotFoundError")


def test_default_targets_is_the_package_or_the_loose_modules_folder(
    project: WriteProject,
) -> None:
    root = project(APP)
    assert default_targets("webapp.main") == [str(root / "webapp")]
    assert default_targets("loose") == [str(root)]
    assert "webapp.main" not in sys.modules  # found, not imported


def test_default_targets_of_a_namespace_package_is_its_name(project: WriteProject) -> None:
    project({"nspkg/mod.py": ""})  # no __init__.py: no single folder
    assert default_targets("nspkg.mod") == ["nspkg"]


@pytest.mark.parametrize(
    ("module", "reason"),
    [
        ("nosuchpkg.main", "no module named 'nosuchpkg'"),
        ("sys", "'sys' is not Python source"),  # built in
        ("_socket", "'_socket' is not Python source"),  # an extension module
    ],
)
def test_default_targets_errors(module: str, reason: str) -> None:
    with pytest.raises(AppLoadError) as raised:
        default_targets(module)
    assert raised.value.reason.startswith(reason)


def test_locate_finds_the_attribute_by_identity(project: WriteProject) -> None:
    project(APP)
    main = load(AppTarget("webapp.main", "app"))
    assert locate(main) == AppTarget("webapp.main", "app")
    with pytest.raises(AppLoadError, match="cannot find the module attribute"):
        locate(lambda environ, start_response: [])
