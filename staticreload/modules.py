"""``sys.modules`` only: snapshot, evict, restore, dispose.

The import system's rules this module follows (CPython's ``importlib._bootstrap``):

- ``from pkg import sub`` takes the attribute ``pkg.sub`` before it looks in
  ``sys.modules``: an evicted submodule must also leave its parent's
  attributes, or importers silently get the old module.
- A failed import removes only the failing module and keeps whatever it
  imported, so a failed reload restores a snapshot of ``sys.modules``; but
  only the project's own modules may ever leave it (an installed package
  imported for the first time during the failed reload stays: a C extension
  cannot be loaded twice in one process).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType

__all__ = [
    "DECLINE_FLAG",
    "DISPOSE_HOOK",
    "Snapshot",
    "dispose",
    "evict",
    "loaded_descendants",
    "orphans",
    "restore",
]

logger = logging.getLogger(__name__)

DISPOSE_HOOK = "__staticreload_dispose__"
# A module that sets this to True is applied by a restart, never run again in place.
DECLINE_FLAG = "__staticreload_decline__"


@dataclass
class Snapshot:
    """``sys.modules`` as it was before an eviction, and the parent attributes it removed.

    Attributes:
        modules: a copy of ``sys.modules``.
        evicted: the names removed from ``sys.modules``.
        detached: ``(parent module, attribute, old submodule)`` for every
            attribute taken off a parent package that stayed loaded.
    """

    modules: dict[str, ModuleType]
    evicted: frozenset[str]
    detached: list[tuple[ModuleType, str, ModuleType]] = field(default_factory=list)


def _parent_and_child(name: str) -> tuple[str, str]:
    parent, _, child = name.rpartition(".")
    return parent, child


def dispose(names: Iterable[str]) -> None:
    """Call ``__staticreload_dispose__()`` of each loaded module that defines one.

    A module uses it to release what it holds (a socket, a thread) before it is
    evicted. The hook is looked up in the module's namespace, so a module
    ``__getattr__`` is never called. Exceptions are logged, not raised: a
    broken dispose hook must not stop the reload.
    """
    for name in names:
        module = sys.modules.get(name)
        namespace = getattr(module, "__dict__", None)
        hook = namespace.get(DISPOSE_HOOK) if isinstance(namespace, dict) else None
        if callable(hook):
            try:
                hook()
            except Exception:
                logger.exception("%s.%s() raised; reloading anyway", name, DISPOSE_HOOK)


def loaded_descendants(packages: Iterable[str]) -> set[str]:
    """The loaded submodules, at any depth, of the given packages (``pkg.a.b`` of ``pkg``).

    Only modules loaded under their own name: an entry a package put into
    ``sys.modules`` by hand (``sys.modules["pkg.compat.json"] = json``) is an
    alias, not a submodule.
    """
    prefixes = tuple(f"{name}." for name in packages)
    if not prefixes:
        return set()
    return {
        name
        for name, module in list(sys.modules.items())
        if name.startswith(prefixes) and getattr(module, "__name__", None) == name
    }


def orphans(names: Iterable[str]) -> set[str]:
    """The modules among ``names`` whose parent package is not loaded.

    A package whose ``__init__`` raised after importing a submodule leaves
    that submodule loaded without its package (the optional-dependency idiom:
    ``sqlalchemy.ext.asyncio`` without greenlet).
    """
    return {name for name in names if "." in name and _parent_and_child(name)[0] not in sys.modules}


def evict(names: Iterable[str]) -> Snapshot:
    """Remove modules from ``sys.modules`` and from their parents' attributes.

    Args:
        names: the modules to evict; names not loaded are skipped.

    Returns:
        A snapshot to :func:`restore` if importing them again fails.
    """
    evicted = frozenset(name for name in names if name in sys.modules)
    snapshot = Snapshot(dict(sys.modules), evicted)
    for name in evicted:
        module = sys.modules.pop(name)
        parent_name, child = _parent_and_child(name)
        parent = sys.modules.get(parent_name) if parent_name not in evicted else None
        if parent is not None and getattr(parent, child, None) is module:
            delattr(parent, child)
            snapshot.detached.append((parent, child, module))
    return snapshot


def restore(snapshot: Snapshot, *, is_project: Callable[[str], bool]) -> None:
    """Put the project's modules and parent attributes back as in the snapshot.

    The evicted modules come back, so the program keeps running the last code
    that loaded. Modules imported since the snapshot are removed if they are
    the project's own; any other (the standard library, installed packages)
    stays loaded, as it would after a failed import in a fresh process.

    Args:
        snapshot: what :func:`evict` returned.
        is_project: whether a module name is one of the project's modules.
    """
    added = {
        name: sys.modules.pop(name)
        for name in set(sys.modules) - set(snapshot.modules)
        if is_project(name)
    }
    sys.modules.update({name: snapshot.modules[name] for name in snapshot.evicted})
    for parent_module, attribute, submodule in snapshot.detached:
        setattr(parent_module, attribute, submodule)
    # An import that ran before the failure set attributes on parents that
    # stayed loaded: point them back at the old modules, or drop the new ones.
    for name in snapshot.evicted | set(added):
        parent_name, child = _parent_and_child(name)
        parent = sys.modules.get(parent_name)
        if parent is None:
            continue
        if name in sys.modules:
            setattr(parent, child, sys.modules[name])
        elif getattr(parent, child, None) is added.get(name):
            delattr(parent, child)
