"""The SQLModel table models."""

from sqlmodel import Field, SQLModel


class Item(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    price: float

    def label(self) -> str:
        return f"{self.name} costs {self.price}"
