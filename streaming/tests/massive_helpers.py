"""Driving ``/stocks`` (the Massive stream) with ``WebsocketCommunicator``."""

import json
from contextlib import asynccontextmanager

from channels.testing import WebsocketCommunicator


def status(status: str, message: str) -> dict:
    return {"ev": "status", "status": status, "message": message}


CONNECTED = [status("connected", "Connected Successfully")]
AUTHENTICATED = [status("auth_success", "authenticated")]


def subscribed(*topics: str) -> list[dict]:
    return [status("success", f"subscribed to: {t}") for t in topics]


def error(message: str) -> list[dict]:
    return [status("error", message)]


class MassiveClient:
    def __init__(self, ws: WebsocketCommunicator) -> None:
        self.ws = ws

    async def send(self, message) -> None:
        await self.ws.send_to(text_data=json.dumps(message))

    async def recv(self, timeout: float = 2):
        out = await self.ws.receive_output(timeout)
        if out["type"] == "websocket.close":
            return ("close", out.get("code"))
        assert out.get("text") is not None, "Massive's stream sends text frames only"
        return json.loads(out["text"])

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.ws.receive_nothing(timeout=timeout)

    async def all(self, timeout: float = 0.3) -> list:
        out = []
        while not await self.ws.receive_nothing(timeout=timeout):
            out.append(await self.recv())
        return out

    async def auth(self, key="any-key"):
        await self.send({"action": "auth", "params": key})
        return await self.recv()

    async def subscribe(self, params: str):
        await self.send({"action": "subscribe", "params": params})
        return await self.recv()

    async def unsubscribe(self, params: str):
        await self.send({"action": "unsubscribe", "params": params})
        return await self.recv()


@asynccontextmanager
async def massive(*, auth: bool = True, key: str = "any-key"):
    """A connected Massive stream client (welcomed, and authenticated unless ``auth`` is False)."""
    from config.asgi import application

    ws = WebsocketCommunicator(application, "/stocks")
    connected, _ = await ws.connect()
    assert connected
    client = MassiveClient(ws)
    try:
        assert await client.recv() == CONNECTED
        if auth:
            assert await client.auth(key) == AUTHENTICATED
        yield client
    finally:
        await ws.disconnect()
