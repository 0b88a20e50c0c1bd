"""The pydantic schemas of the API."""

from pydantic import BaseModel


class Greeting(BaseModel):
    message: str


class ItemIn(BaseModel):
    name: str
    price: float


class ItemOut(BaseModel):
    id: int
    name: str
    label: str
