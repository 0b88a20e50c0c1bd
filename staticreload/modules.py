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
from collections.abc import Callable, Collection, Iterable
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
    "rebind",
    "restore",
]

logger = logging.getLogger(__name__)

DISPOSE_HOOK = "__staticreload_dispose__"
# A module that sets this to True is applied by a restart, never run again in place.
DECLINE_FLAG = "__staticreload_decline__"


_UNBOUND = object()


@dataclass
class Snapshot:
    """``sys.modules`` as it was before an eviction, and the parents' bindings of it.

    Attributes:
        modules: a copy of ``sys.modules``.
        evicted: the names removed from ``sys.modules``.
        bindings: ``(parent module, attribute, module name, value)``: what a
            parent package that does not run again bound to each evicted
            submodule's name (the submodule itself, a function ``__init__``
            re-exported under that name, or nothing).
    """

    modules: dict[str, ModuleType]
    evicted: frozenset[str]
    bindings: list[tuple[ModuleType, str, str, object]] = field(default_factory=list)


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


def evict(names: Iterable[str], *, rerun: Collection[str] = ()) -> Snapshot:
    """Remove modules from ``sys.modules`` and from their parents' attributes.

    A parent that does not run again (``rerun`` does not name it) loses the
    attribute that holds the evicted submodule, so that ``from pkg import
    sub`` cannot pick up the old module; what it bound is kept in the
    snapshot for :func:`rebind` and :func:`restore`.

    Args:
        names: the modules to evict; names not loaded are skipped.
        rerun: the evicted modules that will run again; their old objects'
            namespaces are left as they are.

    Returns:
        A snapshot to :func:`restore` if importing them again fails.
    """
    evicted = frozenset(name for name in names if name in sys.modules)
    snapshot = Snapshot(dict(sys.modules), evicted)
    for name in sorted(evicted):
        parent_name, child = _parent_and_child(name)
        parent = snapshot.modules.get(parent_name)
        namespace = getattr(parent, "__dict__", None)
        if parent is None or parent_name in rerun or not isinstance(namespace, dict):
            continue
        value = namespace.get(child, _UNBOUND)
        snapshot.bindings.append((parent, child, name, value))
        if value is snapshot.modules[name]:
            delattr(parent, child)
    for name in evicted:
        del sys.modules[name]
    return snapshot


def rebind(snapshot: Snapshot) -> None:
    """After a successful reload, give parents that did not run again their bindings.

    A name that held the old submodule holds the new one (or is gone with a
    deleted module); any other binding (``from .f import f`` bound the
    function ``f``) is put back, whatever importing the submodule again set.
    """
    for parent, child, name, value in snapshot.bindings:
        if value is snapshot.modules.get(name):
            new = sys.modules.get(name)
            if new is not None:
                setattr(parent, child, new)
            elif child in vars(parent):
                delattr(parent, child)
        elif value is _UNBOUND:
            if child in vars(parent):
                delattr(parent, child)
        else:
            setattr(parent, child, value)


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
    for parent, child, _, value in snapshot.bindings:
        if value is _UNBOUND:
            if child in vars(parent):
                delattr(parent, child)
        else:
            setattr(parent, child, value)
    # An import that ran before the failure set new modules on parents that
    # stayed loaded: drop them.
    for name, module in added.items():
        parent_name, child = _parent_and_child(name)
        loaded_parent = sys.modules.get(parent_name)
        if loaded_parent is not None and getattr(loaded_parent, child, None) is module:
            delattr(loaded_parent, child)
