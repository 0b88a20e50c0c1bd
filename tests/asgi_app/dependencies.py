"""FastAPI dependencies."""

from typing import Any

from fastapi import Request


def greeting_word() -> str:
    return "Hello"


def loaded_model(request: Request) -> Any:
    """The model the lifespan loaded, from the lifespan state."""
    return request.state.model
