"""The engine, and a session per request (a FastAPI dependency)."""

from collections.abc import Iterator

from sqlmodel import Session, SQLModel, create_engine

from . import settings

engine = create_engine(f"sqlite:///{settings.DATABASE}", connect_args={"check_same_thread": False})


def create_tables() -> None:
    """Create the tables of every model imported so far (SQLModel's process-wide metadata)."""
    SQLModel.metadata.create_all(engine)


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session
