"""The lifespan: loads the "model" (slowly, as a real one would), creates the tables.

Each start and stop is appended to the file named by ASGI_APP_LIFESPAN_LOG, so
tests can count the lifespan's runs.
"""

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from . import db, settings


@dataclass
class Model:
    name: str
    loaded_at: float


def _record(event: str) -> None:
    if settings.LIFESPAN_LOG:
        with open(settings.LIFESPAN_LOG, "a") as log:
            log.write(f"{event} {os.getpid()}\n")


def load_model() -> Model:
    time.sleep(settings.MODEL_LOAD_S)  # reading the weights
    return Model(name="model-1", loaded_at=time.time())


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    _record("start")
    model = load_model()
    db.create_tables()
    app.state.model = model
    yield {"model": model}
    _record("stop")
