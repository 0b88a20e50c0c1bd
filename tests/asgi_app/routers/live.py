"""Long-lived connections: a WebSocket echo and a server-sent event stream."""

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.sse import EventSourceResponse

VERSION = "live-1"
EVENT_INTERVAL_S = 0.05
MAX_EVENTS = 2000  # a stream the client forgets ends on its own

router = APIRouter()


@router.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(f"{VERSION} {text}")
    except WebSocketDisconnect:
        pass


@router.get("/events", response_class=EventSourceResponse)
async def events() -> AsyncIterator[str]:
    for number in range(MAX_EVENTS):
        yield f"{VERSION} {number}"
        await asyncio.sleep(EVENT_INTERVAL_S)
