"""SQLAlchemy and SQLModel: forget a models module's tables and classes before it runs again.

A ``MetaData`` outside the reload (SQLModel's process-wide ``SQLModel.metadata``,
a declarative ``Base`` in a module of its own) still holds the tables of the
models module being reloaded: running its class bodies again raises ``Table
'user' is already defined for this MetaData instance``, and so does every later
reload. The declarative registry still maps the class names to the old
classes, so string relationships would become ambiguous ("Multiple classes
found for path").

So, before the modules of a reload are evicted, this integration takes out of
every ``MetaData`` the tables those modules defined (their mapped classes'
tables, and ``Table`` objects at module level), and out of every declarative
registry their mapped classes (SQLAlchemy 2.x: the class registry's string
lookup and the registry's managers). The old mappers are not disposed: a
stream or WebSocket still running the old code keeps querying with them, and
they go away with the last reference. If the reload fails and rolls back,
every ``MetaData`` and registry is put back exactly as it was.

When the models cannot be replaced safely it touches nothing and logs a
warning (the reload then fails at "already defined" and rolls back): a mapped
class outside the reload has a configured relationship to a reloaded class
(``back_populates`` or a ``backref`` across modules), a class inherits across
the boundary, or a table outside the reload has a resolved foreign key to a
reloaded table. Those objects would keep pointing at the old classes and
tables. :func:`unsafe_reason` tells it in advance, for a rule that restarts
the process instead.

SQLAlchemy's ``registry.dispose()`` is not used: it disposes every mapper of
the registry, including those of modules that are not reloaded. SQLAlchemy is
imported only if the application already imported it.
"""

from __future__ import annotations

import importlib
import logging
import sys
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from staticreload.reloader import Reloader, ReloadResult

__all__ = ["ModelCleanup", "install", "unsafe_reason"]

logger = logging.getLogger(__name__)

_installed: weakref.WeakSet[Reloader] = weakref.WeakSet()


def install(reloader: Reloader) -> None:
    """Clean the models of every reload of ``reloader``: a pre- and a post-reload hook.

    Installing twice on one reloader installs once. The hooks do nothing
    until ``sqlalchemy`` is in ``sys.modules``.

    Args:
        reloader: the reloader; its map decides which modules are the project's.
    """
    if reloader in _installed:
        return
    _installed.add(reloader)
    cleanup = ModelCleanup(is_project=reloader.map.__contains__)
    reloader.add_pre_reload_hook(cleanup.before_reload)
    reloader.add_post_reload_hook(cleanup.after_reload)


def unsafe_reason(modules: Collection[str], *, is_project: Callable[[str], bool]) -> str | None:
    """Why the models of these modules cannot be replaced in place, or None if they can.

    Args:
        modules: the modules a reload would evict and import again.
        is_project: whether a module name belongs to the reloaded project.

    Returns:
        A one-line reason naming the class or table that would keep pointing
        at the old models; None if SQLAlchemy is not loaded or nothing does.
    """
    if "sqlalchemy" not in sys.modules:
        return None
    return _Models.find(frozenset(modules), is_project).unsafe_reason()


class ModelCleanup:
    """The hooks :func:`install` adds: forget models before a reload, restore them after a failure.

    A reload that retries with the whole project (after a circular import)
    calls the pre-reload hook twice; the modules of both calls are forgotten,
    and the snapshot taken by the first call is what a failure restores.
    """

    def __init__(self, *, is_project: Callable[[str], bool]) -> None:
        """Args:
        is_project: whether a module name belongs to the reloaded project.
        """
        self._is_project = is_project
        self._modules: set[str] = set()
        self._snapshot: _Snapshot | None = None

    def before_reload(self, modules: tuple[str, ...]) -> None:
        """Take the tables and classes of ``modules`` out of their MetaData and registries."""
        if "sqlalchemy" not in sys.modules:
            return
        self._modules.update(modules)
        models = _Models.find(frozenset(self._modules), self._is_project)
        if self._snapshot is None:
            self._snapshot = _Snapshot.take(models)
        reason = models.unsafe_reason()
        if reason is not None:
            logger.warning(
                "cannot replace SQLAlchemy models in place: %s; restart to apply", reason
            )
            return
        models.forget()

    def after_reload(self, result: ReloadResult) -> None:
        """After a failed reload, put every MetaData and registry back as it was."""
        snapshot, self._snapshot = self._snapshot, None
        self._modules = set()
        if snapshot is not None and result.error is not None:
            snapshot.restore()


def _namespaces(names: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name in names:
        namespace = getattr(sys.modules.get(name), "__dict__", None)
        if isinstance(namespace, dict):
            yield name, namespace


def _registries() -> list[Any]:
    """Every declarative registry (empty if the ORM is not loaded)."""
    if "sqlalchemy.orm" not in sys.modules:
        return []
    # ``sqlalchemy.orm.mapper`` the module, shadowed by the function of that name.
    mapperlib = importlib.import_module("sqlalchemy.orm.mapper")
    all_registries: Callable[[], set[Any]] = mapperlib._all_registries
    return sorted(all_registries(), key=id)


def _mapper(manager: Any) -> Any | None:
    """A class manager's mapper, or None if it is not mapped (yet)."""
    return manager.__dict__.get("mapper")


@dataclass
class _Models:
    """What the modules of a reload defined: mapped classes and tables, and where they live.

    Attributes:
        managers: registry -> the class managers of the reloaded modules' classes.
        tables: the tables to take out of their MetaData.
        registries: every declarative registry.
        metadatas: every MetaData these could touch (registries' and modules').
    """

    managers: dict[Any, list[Any]] = field(default_factory=dict)
    tables: list[Any] = field(default_factory=list)
    registries: list[Any] = field(default_factory=list)
    metadatas: list[Any] = field(default_factory=list)

    @classmethod
    def find(cls, modules: frozenset[str], is_project: Callable[[str], bool]) -> _Models:
        """The models ``modules`` defined, in the registries and MetaData that hold them."""
        found = cls(registries=_registries())
        metadatas = {id(reg.metadata): reg.metadata for reg in found.registries}
        tables, held_outside = _module_tables(modules, is_project, metadatas)
        for reg in found.registries:
            mine = [m for m in list(reg._managers) if m.class_.__module__ in modules]
            if mine:
                found.managers[reg] = mine
            for manager in mine:
                table = _own_table(manager)  # a Table has no truth value: test for None
                if table is not None:
                    tables.setdefault(id(table), table)
        found.tables = [t for key, t in tables.items() if key not in held_outside]
        for table in found.tables:
            metadatas.setdefault(id(table.metadata), table.metadata)
        found.metadatas = list(metadatas.values())
        return found

    def _inside(self) -> set[int]:
        return {
            id(mapper)
            for managers in self.managers.values()
            for manager in managers
            if (mapper := _mapper(manager)) is not None
        }

    def unsafe_reason(self) -> str | None:
        """Why replacing these models would leave old ones referenced, or None."""
        inside = self._inside()
        if not inside and not self.tables:
            return None
        return self._crossing_mapper(inside) or self._crossing_foreign_key()

    def _crossing_mapper(self, inside: set[int]) -> str | None:
        for reg in self.registries:
            for manager in list(reg._managers):
                mapper = _mapper(manager)
                if mapper is None:
                    continue
                reason = _crossing(mapper, inside)
                if reason is not None:
                    return reason
        return None

    def _crossing_foreign_key(self) -> str | None:
        reloaded = {id(table) for table in self.tables}
        for metadata in self.metadatas:
            for table in list(metadata.tables.values()):
                if id(table) in reloaded:
                    continue
                for fk in table.foreign_keys:
                    column = fk.__dict__.get("column")  # resolved already
                    if column is not None and id(column.table) in reloaded:
                        return (
                            f"table {table.name!r} (not reloaded) has a foreign key to "
                            f"{column.table.name!r}"
                        )
        return None

    def forget(self) -> None:
        """Take the tables out of their MetaData and the classes out of their registries."""
        for table in self.tables:
            metadata = table.metadata
            if metadata.tables.get(table.key) is table:
                metadata.remove(table)
        for reg, managers in self.managers.items():
            for manager in managers:
                reg._managers.pop(manager, None)
                reg._dispose_cls(manager.class_)  # the string lookup only
        if self.tables or self.managers:
            logger.debug(
                "forgot %d tables and %d mapped classes",
                len(self.tables),
                sum(len(managers) for managers in self.managers.values()),
            )


def _module_tables(
    modules: frozenset[str], is_project: Callable[[str], bool], metadatas: dict[int, Any]
) -> tuple[dict[int, Any], set[int]]:
    """The ``Table`` objects at module level in ``modules``, and those a module that stays holds.

    Every ``MetaData`` at module level in ``modules`` is added to ``metadatas``
    (a failed import of such a module may have added tables to it). The other
    project modules are looked at only when ``modules`` hold tables: one of
    them may hold the same table, imported from where it stays.
    """
    from sqlalchemy import MetaData, Table

    tables: dict[int, Any] = {}
    for _, namespace in _namespaces(modules):
        for value in list(namespace.values()):
            if isinstance(value, MetaData):
                metadatas.setdefault(id(value), value)
            elif isinstance(value, Table):
                tables.setdefault(id(value), value)
    held_outside: set[int] = set()
    if tables:
        others = [n for n in list(sys.modules) if n not in modules and is_project(n)]
        for _, namespace in _namespaces(others):
            held_outside.update(id(v) for v in list(namespace.values()) if id(v) in tables)
    return tables, held_outside


def _own_table(manager: Any) -> Any | None:
    """The table a mapped class defined (not the one it shares with its base class)."""
    from sqlalchemy import Table

    mapper = _mapper(manager)
    table = getattr(mapper, "local_table", None)
    if mapper is None or not isinstance(table, Table):
        return None
    inherits = mapper.inherits
    if inherits is not None and inherits.local_table is table:
        return None  # single-table inheritance: the base class's table
    return table


def _crossing(mapper: Any, inside: set[int]) -> str | None:
    """Why this mapper links the reloaded mappers with one that stays, or None."""
    mapped = mapper.class_
    inherits = mapper.inherits
    is_inside = id(mapper) in inside
    if inherits is not None and (id(inherits) in inside) != is_inside:
        return f"{_name(mapped)} inherits from {_name(inherits.class_)} across the reload"
    if is_inside or not mapper.configured:
        return None  # an unconfigured mapper resolves its string relationships later, anew
    for prop in list(mapper._props.values()):
        # A configured relationship has resolved its target (column properties have slots).
        entity = getattr(prop, "__dict__", {}).get("entity")
        if entity is not None and id(entity.mapper) in inside:
            target = _name(entity.mapper.class_)
            return f"{_name(mapped)}.{prop.key} (not reloaded) is a relationship to {target}"
    return None


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass
class _Snapshot:
    """Every MetaData's tables and every registry's classes, to put back after a failure."""

    metadatas: list[tuple[Any, dict[str, Any], dict[Any, list[Any]], set[str]]]
    registries: list[tuple[Any, dict[Any, bool]]]

    @classmethod
    def take(cls, models: _Models) -> _Snapshot:
        return cls(
            metadatas=[
                (
                    metadata,
                    dict(metadata.tables),
                    {key: list(fks) for key, fks in metadata._fk_memos.items()},
                    set(metadata._schemas),
                )
                for metadata in models.metadatas
            ],
            registries=[(reg, dict(reg._managers)) for reg in models.registries],
        )

    def restore(self) -> None:
        """Put the tables, foreign-key notes and classes back; drop what came since."""
        from sqlalchemy.orm import clsregistry

        for metadata, tables, memos, schemas in self.metadatas:
            dict.clear(metadata.tables)
            for key, table in tables.items():
                dict.__setitem__(metadata.tables, key, table)
            metadata._fk_memos.clear()
            metadata._fk_memos.update(memos)
            metadata._schemas = schemas
        for reg, managers in self.registries:
            for manager in [m for m in list(reg._managers) if m not in managers]:
                reg._managers.pop(manager, None)
                reg._dispose_cls(manager.class_)
            for manager in managers:
                if manager not in reg._managers:
                    reg._managers[manager] = True
                    clsregistry._add_class(
                        manager.class_.__name__, manager.class_, reg._class_registry
                    )
        logger.info("the reload failed: SQLAlchemy's MetaData and registries are as they were")
