"""Run in a fresh process: import every module of a copied real package, cold or hot.

The pytest process never imports the copies (it has loaded some of these
packages from site-packages already, and C extensions cannot load twice), so
``tests/functional/test_real_packages.py`` runs this file as a script::

    python tests/realpackages.py cold ROOT PACKAGE OUT [--setup SETUP]
    python tests/realpackages.py hot ROOT PACKAGE OUT [--setup SETUP] --cold COLD --edits MODULE...

``cold`` imports every module of ``ROOT/PACKAGE`` in name order and writes the
public names and kinds of every loaded module of the package (its *state*) to
``OUT`` as JSON. ``hot`` does the same with a ``Reloader`` installed first,
compares its state with the cold one, then, for each ``MODULE`` in turn,
appends a comment line to its file, reloads it and compares again; the steps
go to ``OUT``. Linux and macOS only: the hot run forks (see ``run_hot``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the cold process never imports staticreload
    from staticreload import Reloader

State = dict[str, dict[str, Any]]

SETUPS = ("none", "django-settings", "django")

# Django reads its settings from a module, as a project does; after an edit
# that reloads ``django.conf`` the new ``settings`` object reads it again.
DJANGO_SETTINGS_MODULE = "realpackages_django_settings"
DJANGO_SETTINGS = """\
SECRET_KEY = "staticreload-tests"
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
# Contrib apps that need nothing beyond Django (gis needs GDAL, postgres needs
# psycopg: their modules fail cold and are skipped as optional).
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.admindocs",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.flatpages",
    "django.contrib.humanize",
    "django.contrib.messages",
    "django.contrib.redirects",
    "django.contrib.sessions",
    "django.contrib.sitemaps",
    "django.contrib.sites",
    "django.contrib.staticfiles",
    "django.contrib.syndication",
]
# GDAL and GEOS are not installed: a missing file fails at once, where the
# default search (ctypes.util.find_library) costs 0.5 s per module.
GDAL_LIBRARY_PATH = "/nonexistent/libgdal.so"
GEOS_LIBRARY_PATH = "/nonexistent/libgeos_c.so"
"""


def prepare(root: Path, setup: str) -> None:
    """What a program does before it imports the package's modules.

    Args:
        root: the folder the package was copied into.
        setup: ``none``; ``django-settings``: point ``DJANGO_SETTINGS_MODULE`` at
            minimal settings; ``django``: that, then ``django.setup()``, which
            fills the app registry (models import only after it).
    """
    if setup in ("django-settings", "django"):
        settings = root / f"{DJANGO_SETTINGS_MODULE}.py"
        if not settings.exists():
            settings.write_text(DJANGO_SETTINGS, encoding="utf-8")
        os.environ["DJANGO_SETTINGS_MODULE"] = DJANGO_SETTINGS_MODULE
    if setup == "django":
        importlib.import_module("django").setup()


# Modules whose state the program's start-up fills after import
# (``django.setup()`` populates the app registry and reads the settings): a
# change that reaches them is applied by a restart, the decline rule the
# Django integration uses for models, apps and settings.
RESTART_ON = {"django": ["*/django/apps/*", "*/django/conf/__init__.py"]}


def make_reloader(package: str, root: Path, setup: str = "none") -> Reloader:
    """The one place the ``Reloader`` is built."""
    from staticreload import Reloader

    return Reloader.from_targets(package, root=root, restart_on=RESTART_ON.get(setup, ()))


def package_modules(root: Path, package: str) -> list[str]:
    """Every module of the package under ``root``, sorted (``__main__`` left out: it runs)."""
    top = root / package
    found = []
    for path in top.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        folders = [root.joinpath(*parts[:depth]) for depth in range(1, len(parts))]
        if not all((folder / "__init__.py").is_file() for folder in folders):
            continue  # not inside a regular package
        if not all(part.isidentifier() for part in parts) or parts[-1] == "__main__":
            continue
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(found)


def import_all(names: list[str]) -> dict[str, str]:
    """Import each module; return the ones that failed, with their errors."""
    skipped = {}
    for name in names:
        try:
            importlib.import_module(name)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # also SystemExit, pytest's Skipped
            skipped[name] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    return skipped


def kind(value: object) -> str:
    """module, function, class or the type's name; never looks through proxies."""
    cls = type(value)  # not isinstance: Django's lazy objects proxy __class__
    if issubclass(cls, ModuleType):
        return "module"
    if issubclass(cls, type):
        return "class"
    if issubclass(cls, (FunctionType, BuiltinFunctionType, MethodType)):
        return "function"
    return cls.__name__


def module_state(module: ModuleType) -> dict[str, Any]:
    """The public names of a module with the kinds of their values, and its ``__all__``."""
    namespace = vars(module)
    public = {name: kind(value) for name, value in namespace.items() if not name.startswith("_")}
    state: dict[str, Any] = {"names": dict(sorted(public.items()))}
    exported = namespace.get("__all__")
    if exported is not None:
        state["__all__"] = sorted(str(name) for name in exported)
    return state


def package_state(package: str) -> State:
    """The state of every loaded module of the package, by name.

    Entries the package put into ``sys.modules`` by hand under its own name
    (requests aliases ``urllib3`` as ``requests.packages.urllib3``) are
    aliases of other packages' modules, not modules of this one.
    """
    return {
        name: module_state(module)
        for name, module in sorted(sys.modules.items())
        if (name == package or name.startswith(package + "."))
        and module is not None
        and getattr(module, "__name__", None) == name
    }


def differences(hot: State, cold: State) -> dict[str, Any]:
    """What differs between two package states, per module, compactly."""
    found: dict[str, Any] = {}
    for name in sorted(set(hot) | set(cold)):
        if name not in cold:
            found[name] = "loaded only in the hot process"
        elif name not in hot:
            found[name] = "loaded only in the cold process"
        elif hot[name] != cold[name]:
            found[name] = _module_difference(hot[name], cold[name])
    return found


def _module_difference(hot: dict[str, Any], cold: dict[str, Any]) -> dict[str, Any]:
    hot_names, cold_names = hot["names"], cold["names"]
    difference: dict[str, Any] = {}
    if only_hot := sorted(set(hot_names) - set(cold_names)):
        difference["only hot"] = only_hot
    if only_cold := sorted(set(cold_names) - set(hot_names)):
        difference["only cold"] = only_cold
    kinds = {
        name: f"hot {hot_names[name]}, cold {cold_names[name]}"
        for name in set(hot_names) & set(cold_names)
        if hot_names[name] != cold_names[name]
    }
    if kinds:
        difference["kinds"] = dict(sorted(kinds.items()))
    if hot.get("__all__") != cold.get("__all__"):
        difference["__all__"] = {"hot": hot.get("__all__"), "cold": cold.get("__all__")}
    return difference


def run_cold(root: Path, package: str, setup: str) -> dict[str, Any]:
    """Import every module of the package; return them, the ones that failed, and the state."""
    sys.path.insert(0, str(root))
    prepare(root, setup)
    names = package_modules(root, package)
    skipped = import_all(names)
    return {"modules": names, "skipped": skipped, "state": package_state(package)}


def run_hot(
    root: Path, package: str, setup: str, cold: dict[str, Any], edits: list[str]
) -> dict[str, Any]:
    """Import like ``run_cold`` under a reloader, then edit and reload each module of ``edits``.

    The edits run in a forked worker, one after another, in one process: the
    worker stops at the first step that fails, since every later comparison
    would inherit the damage, and a fresh worker forked from the state right
    after the import goes on with the next module (a restart, without paying
    for the import again).
    """
    sys.path.insert(0, str(root))
    if package in sys.modules:
        raise RuntimeError(f"{package} was imported before the reloader was installed")
    reloader = make_reloader(package, root, setup)
    reloader.install()
    prepare(root, setup)
    skipped = import_all(cold["modules"])
    initial: dict[str, Any] = {"module": None, "ok": True}
    if skipped != cold["skipped"]:
        initial["ok"] = False
        initial["error"] = "modules skipped hot and cold differ: " + json.dumps(
            {
                "only hot": sorted(set(skipped) - set(cold["skipped"])),
                "only cold": sorted(set(cold["skipped"]) - set(skipped)),
            }
        )
    initial["differences"] = differences(package_state(package), cold["state"])
    steps = [initial]
    if passed(initial):
        steps += _edit_in_workers(reloader, package, edits, cold["state"])
    return {"steps": steps}


def passed(step: dict[str, Any]) -> bool:
    """Whether a step reloaded and left the state a cold import gives."""
    return bool(step["ok"]) and not step.get("differences")


def _edit_in_workers(
    reloader: Reloader, package: str, edits: list[str], cold: State
) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    pending = list(edits)
    while pending:
        read, write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read)
            _worker(reloader, package, pending, cold, write)
        os.close(write)
        with os.fdopen(read, encoding="utf-8") as lines:
            done = [json.loads(line) for line in lines]
        _, status = os.waitpid(pid, 0)
        if len(done) < len(pending) and (not done or passed(done[-1])):
            # The worker died inside a step: that step failed.
            done.append(
                {
                    "module": pending[len(done)],
                    "ok": False,
                    "error": f"the worker process died (wait status {status})",
                }
            )
        steps += done
        pending = pending[len(done) :]
    return steps


def _worker(reloader: Reloader, package: str, edits: list[str], cold: State, out: int) -> None:
    """Edit and reload until a step fails; one JSON line per step into ``out``. Never returns."""
    code = 0
    try:
        with os.fdopen(out, "w", encoding="utf-8") as lines:
            for module in edits:
                step = _edit_and_reload(reloader, package, module, cold)
                lines.write(json.dumps(step) + "\n")
                lines.flush()
                if not passed(step):
                    break
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no return into the parent's code


def _edit_and_reload(reloader: Reloader, package: str, module: str, cold: State) -> dict[str, Any]:
    step: dict[str, Any] = {"module": module}
    file = getattr(sys.modules.get(module), "__file__", None)
    if file is None:
        return {**step, "ok": False, "error": "not loaded before its edit"}
    path = Path(file)
    with path.open("a", encoding="utf-8") as source:
        source.write("\n# edited by tests/realpackages.py\n")
    try:
        result = reloader.reload_paths([path])
    except Exception:
        return {**step, "ok": False, "error": "reload_paths raised:\n" + traceback.format_exc()}
    step["ok"] = result.ok
    step["closure"] = len(result.reloaded)
    if result.restart is not None:
        step["restart"] = result.restart
    if result.error is not None:
        cause = result.error.__cause__
        step["error"] = str(result.error)
        if cause is not None:
            step["traceback"] = "".join(traceback.format_exception(cause))[-4000:]
    step["differences"] = differences(package_state(package), cold)
    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["cold", "hot"])
    parser.add_argument("root", type=Path)
    parser.add_argument("package")
    parser.add_argument("out", type=Path)
    parser.add_argument("--setup", choices=SETUPS, default="none", help="see prepare()")
    parser.add_argument("--cold", type=Path, help="the cold run's output (hot mode)")
    parser.add_argument(
        "--edits", nargs="*", default=[], help="modules to edit and reload, in order (hot mode)"
    )
    args = parser.parse_args(argv)
    if args.mode == "cold":
        report = run_cold(args.root, args.package, args.setup)
    else:
        cold = json.loads(args.cold.read_text(encoding="utf-8"))
        report = run_hot(args.root, args.package, args.setup, cold, args.edits)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    # Run as a script: its own folder (tests/) must not shadow the packages.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    sys.exit(main())
