"""``bench/alpaca_stream.py``'s load generator: raw-socket Alpaca stream clients (``/v2/iex``),
JSON or msgpack, in their own processes (``bench/stream_client.py``), measured like
``bench/ws_client.py``'s.

Each client does the handshake (with ``Content-Type: application/msgpack`` when packed), sends
``auth``, then ``subscribe`` to trades and quotes of the five tickers, and answers pings. Per
frame it counts the trades (``T: "t"``) whose id (the tick's seq) is in the measured window and
takes the latency of the frame's first message (receipt - its ``t``, the publish time).
"""

import json
from datetime import datetime
from functools import partial

import msgpack

from .stream_client import SYMBOLS, FrameClient, run_clients

SUBSCRIBE = {"action": "subscribe", "trades": list(SYMBOLS), "quotes": list(SYMBOLS)}
AUTH = {"action": "auth", "key": "bench", "secret": "bench"}


def _json_ms(text: str) -> float:
    return datetime.fromisoformat(text[:23] + "+00:00").timestamp() * 1000


class Client(FrameClient):
    PATH = "/v2/iex"

    def __init__(self, stats, ready, *, packed: bool = False) -> None:
        super().__init__(stats, ready)
        self.packed = packed

    def extra_headers(self) -> str:
        return "Content-Type: application/msgpack\r\n" if self.packed else ""

    def send_message(self, message: dict) -> None:
        if self.packed:
            self.send(2, msgpack.packb(message))
        else:
            self.send(1, json.dumps(message).encode())

    def on_message(self, opcode: int, payload: bytes, now: float) -> None:
        stats = self.stats
        messages = msgpack.unpackb(payload) if self.packed else json.loads(payload)
        first = messages[0]
        kind = first.get("T")
        if kind in ("t", "q"):
            stats.frames += 1
            trades = [m for m in messages if m["T"] == "t" and stats.first <= m["i"] <= stats.last]
            if trades:
                stats.ticks += len(trades)
                t = first["t"]
                sent = t.to_unix_nano() / 1e6 if self.packed else _json_ms(t)
                stats.latency(now, sent)
        elif kind == "success" and first["msg"] == "connected":
            self.send_message(AUTH)
        elif kind == "success" and first["msg"] == "authenticated":
            self.send_message(SUBSCRIBE)
        elif kind == "subscription":
            if not self.ready.done():
                self.ready.set_result(True)
        elif kind == "error":
            stats.errors += 1


def load_main(port, clients, packed, first, last, conn) -> None:
    run_clients(port, clients, partial(Client, packed=packed), first, last, conn)
