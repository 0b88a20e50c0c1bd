"""The application: routers included, the lifespan from its own module."""

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from .dependencies import loaded_model
from .lifespan import lifespan
from .routers import greet, items, live

app = FastAPI(lifespan=lifespan)
app.include_router(greet.router)
app.include_router(items.router)
app.include_router(live.router)


@app.get("/health")
def health(request: Request, model: Annotated[Any, Depends(loaded_model)]) -> dict[str, Any]:
    return {"state": model.name, "app_state": request.app.state.model.name}
