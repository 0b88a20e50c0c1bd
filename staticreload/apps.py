"""Application targets: "module:attribute" strings, the folders they need watched, loading them."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, NamedTuple

from staticreload.exceptions import AppLoadError, describe

__all__ = ["AppTarget", "default_targets", "load", "locate", "parse_target"]


class AppTarget(NamedTuple):
    """Where an application lives: a module and an attribute path in it.

    Attributes:
        module: the dotted module name, ``"package.module"``.
        attribute: the dotted attribute path in the module, ``"app"`` or ``"api.app"``.
    """

    module: str
    attribute: str

    def __str__(self) -> str:
        return f"{self.module}:{self.attribute}"


def parse_target(target: str) -> AppTarget:
    """Split ``"package.module:attribute"`` into its module and attribute.

    Nothing is imported.

    Args:
        target: the import string; the attribute may be dotted (``"mod:api.app"``).

    Returns:
        The module and the attribute.

    Raises:
        AppLoadError: the string is not of that form.
    """
    module, sep, attribute = target.partition(":")
    names = [*module.split("."), *attribute.split(".")]
    if not sep or not all(name.isidentifier() for name in names):
        raise AppLoadError(target, "expected 'package.module:attribute'")
    return AppTarget(module, attribute)


def default_targets(module: str) -> list[str]:
    """What to watch for an application module: its top-level package, or its folder.

    The module is found without being imported.

    Args:
        module: the application's module, ``"package.module"``.

    Returns:
        One target: the folder of the top-level package, or the folder holding
        a loose module (its neighbours are the project too); for a namespace
        package, which has no single folder, its name.

    Raises:
        AppLoadError: the top-level module cannot be found, or is not Python
            source (a built-in or extension module).
    """
    top = module.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise AppLoadError(module, f"no module named {top!r}")
    if spec.origin is None and spec.submodule_search_locations:
        return [top]  # a namespace package (PEP 420)
    if spec.origin is None or not spec.has_location or not spec.origin.endswith(".py"):
        raise AppLoadError(module, f"{top!r} is not Python source: name the folders to watch")
    # A package's origin is its __init__.py; a loose module's is the module: the
    # folder holding either is the target.
    return [str(Path(spec.origin).parent)]


def load(target: AppTarget, *, factory: bool = False) -> Any:
    """Import the module, take the attribute, call it if it is a factory.

    Importing a module already imported returns it from ``sys.modules``: after
    a reload, that is the new module.

    Args:
        target: the module and attribute.
        factory: the attribute is an application factory (Flask's
            ``create_app``), called with no arguments.

    Returns:
        The application: a callable (any kind; the server checks its protocol).

    Raises:
        AppLoadError: the module cannot be imported, the attribute is missing,
            the factory is not callable or raises, or the application is not
            callable.
    """
    found = _walk(_import(target), target)
    if factory:
        if not callable(found):
            raise AppLoadError(str(target), "the factory is not callable")
        try:
            found = found()
        except Exception as error:
            raise AppLoadError(str(target), f"the factory raised {describe(error)}") from error
    if not callable(found):
        kind = type(found).__name__
        raise AppLoadError(str(target), f"not a callable application (a {kind})")
    return found


def locate(app: object) -> AppTarget:
    """The module attribute that holds a callable, found by identity.

    Args:
        app: an object defined at the top level of an imported module.

    Returns:
        Its module and the first attribute of that module that is ``app``.

    Raises:
        AppLoadError: no attribute of the module named by ``app.__module__``
            holds it (a closure, a lambda stored elsewhere, a module not imported).
    """
    module_name = getattr(app, "__module__", None)
    module = sys.modules.get(module_name) if isinstance(module_name, str) else None
    if module is not None:
        for name, value in vars(module).items():
            if value is app:
                return AppTarget(module.__name__, name)
    raise AppLoadError(repr(app), "cannot find the module attribute that holds this callable")


def _import(target: AppTarget) -> object:
    """The target's module, imported.

    Raises:
        AppLoadError: the module, or one of its parents, does not exist; or its
            import raised.
    """
    try:
        return importlib.import_module(target.module)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        # Only the target module or one of its packages missing means "no such
        # module"; a module missing deeper down is a failing import of the app.
        if target.module == missing or target.module.startswith(missing + "."):
            raise AppLoadError(str(target), f"no module named {missing!r}") from error
        raise AppLoadError(str(target), describe(error)) from error
    except Exception as error:
        raise AppLoadError(str(target), describe(error)) from error


def _walk(module: object, target: AppTarget) -> object:
    """Follow the dotted attribute path from the module.

    Raises:
        AppLoadError: an attribute on the way is missing.
    """
    found = module
    for name in target.attribute.split("."):
        if not hasattr(found, name):
            raise AppLoadError(str(target), f"module {target.module!r} has no {name!r}")
        found = getattr(found, name)
    return found
