"""Greetings: a route with a dependency and a response schema."""

from typing import Annotated

from fastapi import APIRouter, Depends

from ..dependencies import greeting_word
from ..schemas import Greeting

router = APIRouter()


@router.get("/greet/{name}", response_model=Greeting)
def greet(name: str, word: Annotated[str, Depends(greeting_word)]) -> Greeting:
    return Greeting(message=f"{word}, {name}!")
