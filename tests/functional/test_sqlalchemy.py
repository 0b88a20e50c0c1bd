"""SQLAlchemy and SQLModel models reloaded in place: tables and classes replaced, rows kept."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.orm import Session

from staticreload import Reloader
from staticreload.integrations import sqlalchemy as integration
from tests.conftest import WriteProject

REPO = Path(__file__).resolve().parents[2]

DECLARATIVE = {
    "shop/__init__.py": "",
    # The declarative base in a module of its own: outside the closure of a models edit.
    "shop/db.py": """\
        from sqlalchemy import MetaData
        from sqlalchemy.orm import DeclarativeBase

        class Base(DeclarativeBase):
            pass

        events_metadata = MetaData()
        """,
    "shop/models.py": """\
        from sqlalchemy import ForeignKey, String
        from sqlalchemy.orm import Mapped, mapped_column, relationship

        from shop.db import Base

        class Customer(Base):
            __tablename__ = "customer"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(50))
            orders: Mapped[list["Order"]] = relationship(back_populates="customer")

            def greeting(self):
                return f"hello {self.name}"

        class Order(Base):
            __tablename__ = "purchase"
            id: Mapped[int] = mapped_column(primary_key=True)
            customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
            customer: Mapped["Customer"] = relationship(back_populates="orders")
        """,
    # Core: a Table at module level, in a MetaData of another module.
    "shop/events.py": """\
        from sqlalchemy import Column, Integer, String, Table

        from shop.db import events_metadata

        events = Table(
            "event",
            events_metadata,
            Column("id", Integer, primary_key=True),
            Column("kind", String),
        )
        """,
    "shop/queries.py": "from shop import events, models\n",
}

SQLMODEL = {
    "heroes/__init__.py": "",
    "heroes/models.py": """\
        from sqlmodel import Field, Relationship, SQLModel

        class Team(SQLModel, table=True):
            __tablename__ = "sr_team"
            id: int | None = Field(default=None, primary_key=True)
            name: str
            heroes: list["Hero"] = Relationship(back_populates="team")

        class Hero(SQLModel, table=True):
            __tablename__ = "sr_hero"
            id: int | None = Field(default=None, primary_key=True)
            name: str
            team_id: int | None = Field(default=None, foreign_key="sr_team.id")
            team: Team | None = Relationship(back_populates="heroes")

            def title(self):
                return f"{self.name} of {self.team.name}"
        """,
    "heroes/api.py": "from heroes import models\n",
}


def _forget_package(package: str) -> None:
    """Take a test package's models out of process-wide registries (SQLModel.metadata)."""
    names = tuple(name for name in sys.modules if name.split(".")[0] == package)
    cleanup = integration.ModelCleanup(is_project=lambda name: name.split(".")[0] == package)
    cleanup.before_reload(names)


@pytest.fixture
def forget() -> Iterator[list[str]]:
    packages: list[str] = []
    yield packages
    for package in packages:
        _forget_package(package)


def _reloader(root: Path, package: str, *, installed: bool = True) -> Reloader:
    reloader = Reloader.from_targets(root / package)
    if installed:
        integration.install(reloader)
    reloader.install()
    return reloader


def _edit(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source, old
    path.write_text(source.replace(old, new))


def test_without_the_integration_a_models_edit_fails_with_table_already_defined(
    project: WriteProject, forget: list[str]
) -> None:
    root = project(DECLARATIVE)
    forget.append("shop")
    reloader = _reloader(root, "shop", installed=False)
    try:
        __import__("shop.queries")
        _edit(root / "shop/models.py", "hello {self.name}", "hi {self.name}")
        with warnings.catch_warnings():
            # SQLAlchemy first warns about the class registered twice (an error under pytest).
            warnings.simplefilter("ignore")
            result = reloader.reload_paths([root / "shop/models.py"])
        assert result.error is not None and result.rolled_back
        assert "Table 'customer' is already defined for this MetaData" in str(result.error)
    finally:
        reloader.uninstall()


def test_a_declarative_models_edit_is_served_and_rows_survive(
    project: WriteProject, forget: list[str], tmp_path: Path
) -> None:
    root = project(DECLARATIVE)
    forget.append("shop")
    reloader = _reloader(root, "shop")
    try:
        __import__("shop.queries")
        engine = create_engine(f"sqlite:///{tmp_path / 'shop.sqlite3'}")
        base = sys.modules["shop.db"].Base
        base.metadata.create_all(engine)
        old = sys.modules["shop.models"]
        with Session(engine) as session:
            session.add(old.Customer(name="ada", orders=[old.Order()]))
            session.commit()

        for number, word in enumerate(["hi", "hey", "yo"]):  # every later edit works too
            _edit(root / "shop/models.py", "{self.name}", f"{{self.name}}{number}")
            _edit(root / "shop/models.py", 'return f"', f'return f"{word} ')
            result = reloader.reload_paths([root / "shop/models.py"])
            assert result.ok, result.error
            assert "shop.models" in result.reloaded
            models = sys.modules["shop.models"]
            assert models.Customer is not old.Customer
            assert base.metadata.tables["customer"] is models.Customer.__table__
            with Session(engine) as session:
                customer = session.scalars(select(models.Customer)).one()
                assert customer.greeting().startswith(word)
                assert len(customer.orders) == 1  # the relationship, configured anew
                assert isinstance(customer.orders[0], models.Order)
        # The old mapper was not disposed: old code still running (a stream) can query.
        with Session(engine) as session:
            assert session.scalars(select(old.Customer)).one().name == "ada"
    finally:
        reloader.uninstall()


def test_a_core_table_at_module_level_is_replaced(project: WriteProject, forget: list[str]) -> None:
    root = project(DECLARATIVE)
    forget.append("shop")
    reloader = _reloader(root, "shop")
    try:
        __import__("shop.queries")
        metadata = sys.modules["shop.db"].events_metadata
        _edit(root / "shop/events.py", 'Column("kind", String)', 'Column("kind", String(20))')
        result = reloader.reload_paths([root / "shop/events.py"])
        assert result.ok, result.error
        assert metadata.tables["event"] is sys.modules["shop.events"].events
        assert metadata.tables["event"].c.kind.type.length == 20
    finally:
        reloader.uninstall()


def test_a_failed_models_reload_puts_every_table_and_class_back(
    project: WriteProject, forget: list[str], tmp_path: Path
) -> None:
    root = project(DECLARATIVE)
    forget.append("shop")
    reloader = _reloader(root, "shop")
    try:
        __import__("shop.queries")
        old = sys.modules["shop.models"]
        base = sys.modules["shop.db"].Base
        tables = dict(base.metadata.tables)
        source = (root / "shop/models.py").read_text()
        (root / "shop/models.py").write_text(source + "\nraise RuntimeError('broken')\n")
        result = reloader.reload_paths([root / "shop/models.py"])
        assert result.rolled_back and "broken" in str(result.error)
        assert sys.modules["shop.models"] is old
        assert dict(base.metadata.tables) == tables  # the half-run module's tables are gone
        engine = create_engine(f"sqlite:///{tmp_path / 'failed.sqlite3'}")
        base.metadata.create_all(engine)
        with Session(engine) as session:  # the old classes are mapped and configured as before
            session.add(old.Customer(name="bob", orders=[old.Order()]))
            session.commit()
            assert session.scalars(select(old.Order)).one().customer.name == "bob"

        (root / "shop/models.py").write_text(source.replace("hello", "fixed"))
        result = reloader.reload_paths([root / "shop/models.py"])
        assert result.ok, result.error
        with Session(engine) as session:
            customer = session.scalars(select(sys.modules["shop.models"].Customer)).one()
            assert customer.greeting() == "fixed bob"
    finally:
        reloader.uninstall()


def test_sqlmodel_models_edit_is_served_and_rows_survive(
    project: WriteProject, forget: list[str], tmp_path: Path
) -> None:
    pytest.importorskip("sqlmodel")
    root = project(SQLMODEL)
    forget.append("heroes")
    reloader = _reloader(root, "heroes")
    try:
        __import__("heroes.api")
        from sqlmodel import SQLModel

        engine = create_engine(f"sqlite:///{tmp_path / 'heroes.sqlite3'}")
        SQLModel.metadata.create_all(engine)
        old = sys.modules["heroes.models"]
        with Session(engine) as session:
            session.add(old.Hero(name="ada", team=old.Team(name="engines")))
            session.commit()

        for word in ("of", "from", "in"):
            _edit(root / "heroes/models.py", "{self.name} ", f"{{self.name}} {word}")
            result = reloader.reload_paths([root / "heroes/models.py"])
            assert result.ok, result.error
            models = sys.modules["heroes.models"]
            assert SQLModel.metadata.tables["sr_hero"] is models.Hero.__table__
            with Session(engine) as session:
                hero = session.scalars(select(models.Hero)).one()
                assert hero.title().startswith(f"ada {word}")
                assert hero.team.heroes == [hero]
        assert inspect(engine).get_table_names() == ["sr_hero", "sr_team"]
        with engine.connect() as connection:
            assert connection.execute(text("select count(*) from sr_hero")).scalar() == 1
    finally:
        reloader.uninstall()


CROSSING = {
    "club/__init__.py": "",
    "club/db.py": """\
        from sqlalchemy.orm import DeclarativeBase

        class Base(DeclarativeBase):
            pass
        """,
    "club/members.py": """\
        from sqlalchemy.orm import Mapped, mapped_column

        from club.db import Base

        class Member(Base):
            __tablename__ = "member"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
    # Refers to Member by name only: an edit to members.py does not reload it.
    "club/teams.py": """\
        from sqlalchemy import ForeignKey
        from sqlalchemy.orm import Mapped, mapped_column, relationship

        from club.db import Base

        class Team(Base):
            __tablename__ = "team"
            id: Mapped[int] = mapped_column(primary_key=True)
            captain_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
            captain: Mapped["Member"] = relationship()
        """,
    "club/app.py": "import club.members\nimport club.teams\n",
}


def test_a_relationship_across_the_reload_is_declined_and_nothing_breaks(
    project: WriteProject, forget: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    root = project(CROSSING)
    forget.append("club")
    reloader = _reloader(root, "club")
    try:
        __import__("club.app")
        from sqlalchemy.orm import configure_mappers

        configure_mappers()  # as the first query does
        is_project = reloader.map.__contains__
        reason = integration.unsafe_reason(["club.members"], is_project=is_project)
        assert reason is not None and "club.teams.Team.captain" in reason
        assert integration.unsafe_reason(["club.teams"], is_project=is_project) is None

        old_member = sys.modules["club.members"].Member
        (root / "club/members.py").write_text(
            (root / "club/members.py").read_text() + "    nickname = None\n"
        )
        with caplog.at_level(logging.WARNING, logger="staticreload"):
            result = reloader.reload_paths([root / "club/members.py"])
        assert "cannot replace SQLAlchemy models in place" in caplog.text
        assert result.rolled_back  # "already defined": the old models stay, untouched
        assert sys.modules["club.members"].Member is old_member
        team = sys.modules["club.teams"].Team
        assert team.captain.property.mapper.class_ is old_member
    finally:
        reloader.uninstall()


def test_the_integration_imports_nothing_without_sqlalchemy(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain/__init__.py").write_text("VALUE = 1\n")
    script = (
        "import sys\n"
        "from staticreload import Reloader\n"
        "from staticreload.integrations import install\n"
        "reloader = Reloader.from_targets('plain'); install(reloader); reloader.install()\n"
        "import plain\n"
        "open('plain/__init__.py', 'w').write('VALUE = 2\\n')\n"
        "assert reloader.reload_paths(['plain/__init__.py']).ok\n"
        "assert sys.modules['plain'].VALUE == 2\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
