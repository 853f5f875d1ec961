"""Driving ``/v2/{feed}`` (the Alpaca stream) with ``WebsocketCommunicator``, in JSON or msgpack."""

import json
from contextlib import asynccontextmanager

import msgpack
from channels.testing import WebsocketCommunicator

MSGPACK = [(b"content-type", b"application/msgpack")]
CONNECTED = [{"T": "success", "msg": "connected"}]
AUTHENTICATED = [{"T": "success", "msg": "authenticated"}]


def error(code: int, msg: str) -> list[dict]:
    return [{"T": "error", "code": code, "msg": msg}]


class AlpacaClient:
    def __init__(self, ws: WebsocketCommunicator, packed: bool) -> None:
        self.ws, self.packed = ws, packed

    async def send(self, message) -> None:
        if self.packed:
            await self.ws.send_to(bytes_data=msgpack.packb(message))
        else:
            await self.ws.send_to(text_data=json.dumps(message))

    async def recv(self, timeout: float = 2):
        out = await self.ws.receive_output(timeout)
        if out["type"] == "websocket.close":
            return ("close", out.get("code"))
        if out.get("bytes") is not None:
            assert self.packed, "a binary frame on a JSON connection"
            return msgpack.unpackb(out["bytes"])
        assert not self.packed, "a text frame on a msgpack connection"
        return json.loads(out["text"])

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.ws.receive_nothing(timeout=timeout)

    async def all(self, timeout: float = 0.3) -> list:
        out = []
        while not await self.ws.receive_nothing(timeout=timeout):
            out.append(await self.recv())
        return out

    async def auth(self, key="key", secret="secret"):
        await self.send({"action": "auth", "key": key, "secret": secret})
        return await self.recv()

    async def subscribe(self, **channels):
        await self.send({"action": "subscribe", **channels})
        return await self.recv()


@asynccontextmanager
async def alpaca(path: str = "/v2/iex", *, packed: bool = False, headers=(), auth: bool = True):
    """A connected Alpaca stream client (welcomed, and authenticated unless ``auth`` is False)."""
    from config.asgi import application

    ws = WebsocketCommunicator(application, path, headers=[*headers, *(MSGPACK if packed else [])])
    connected, _ = await ws.connect()
    assert connected
    client = AlpacaClient(ws, packed)
    try:
        assert await client.recv() == CONNECTED
        if auth:
            assert await client.auth() == AUTHENTICATED
        yield client
    finally:
        await ws.disconnect()
