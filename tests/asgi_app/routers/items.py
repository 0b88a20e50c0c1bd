"""Items, stored with SQLModel."""

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import Session, select

from ..db import get_session
from ..models import Item
from ..schemas import ItemIn, ItemOut

router = APIRouter()


@router.post("/items", response_model=ItemOut)
def create_item(item: ItemIn, session: Annotated[Session, Depends(get_session)]) -> ItemOut:
    row = Item(name=item.name, price=item.price)
    session.add(row)
    session.commit()
    session.refresh(row)
    assert row.id is not None
    return ItemOut(id=row.id, name=row.name, label=row.label())


@router.get("/items", response_model=list[ItemOut])
def list_items(session: Annotated[Session, Depends(get_session)]) -> list[ItemOut]:
    rows = session.exec(select(Item).order_by(Item.id)).all()
    return [ItemOut(id=row.id or 0, name=row.name, label=row.label()) for row in rows]
