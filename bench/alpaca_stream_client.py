"""``bench/alpaca_stream.py``'s load generator: raw-socket Alpaca stream clients (``/v2/iex``),
JSON or msgpack, in their own processes, measured like ``bench/ws_client.py``'s.

Each client does the handshake (with ``Content-Type: application/msgpack`` when packed), sends
``auth``, then ``subscribe`` to trades and quotes of the five tickers, and answers pings. Per
frame it counts the trades (``T: "t"``) whose id (the tick's seq) is in the measured window and
takes the latency of the frame's first message (receipt - its ``t``, the publish time).
"""

import asyncio
import base64
import json
import os
import struct
import time
from datetime import datetime

import msgpack

from .ws_client import CONNECT_CONCURRENCY, HIST_MS, SYMBOLS, Stats

SUBSCRIBE = {"action": "subscribe", "trades": list(SYMBOLS), "quotes": list(SYMBOLS)}
AUTH = {"action": "auth", "key": "bench", "secret": "bench"}


def _json_ms(text: str) -> float:
    return datetime.fromisoformat(text[:23] + "+00:00").timestamp() * 1000


class Client(asyncio.Protocol):
    def __init__(self, stats: Stats, packed: bool, ready: asyncio.Future) -> None:
        self.stats, self.packed, self.ready = stats, packed, ready
        self.buf = bytearray()
        self.upgraded = False
        self.transport = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        content = "Content-Type: application/msgpack\r\n" if self.packed else ""
        transport.write(
            (
                f"GET /v2/iex HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n{content}"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc) -> None:
        if not self.closed:
            self.closed = True
            self.stats.dropped += 1
        if not self.ready.done():
            self.ready.set_result(False)

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (
            bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
        )
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(head + mask + masked)

    def send_message(self, message: dict) -> None:
        if self.packed:
            self.send(2, msgpack.packb(message))
        else:
            self.send(1, json.dumps(message).encode())

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.transport.close()
                return
            del buf[: end + 4]
            self.upgraded = True
        now = time.time() * 1000
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b1 = buf[pos + 1] & 0x7F
            head = 2
            if b1 == 126:
                if size - pos < 4:
                    break
                b1, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif b1 == 127:
                if size - pos < 10:
                    break
                b1, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos < head + b1:
                break
            opcode = buf[pos] & 0x0F
            payload = bytes(buf[pos + head : pos + head + b1])
            pos += head + b1
            if opcode in (1, 2):
                self.on_message(payload, now)
            elif opcode == 9:
                self.send(0xA, payload)
            elif opcode == 8:
                self.closed = True
                self.stats.dropped += 1
                self.transport.close()
        del buf[:pos]

    def on_message(self, payload: bytes, now: float) -> None:
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
                stats.hist[min(max(int(now - sent), 0), HIST_MS)] += 1
        elif kind == "success" and first["msg"] == "connected":
            self.send_message(AUTH)
        elif kind == "success" and first["msg"] == "authenticated":
            self.send_message(SUBSCRIBE)
        elif kind == "subscription":
            if not self.ready.done():
                self.ready.set_result(True)
        elif kind == "error":
            stats.errors += 1


async def _load(port: int, clients: int, packed: bool, first: int, last: int, conn) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats(first, last)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    transports = []

    async def one() -> bool:
        async with gate:
            ready = loop.create_future()
            try:
                transport, _ = await loop.create_connection(
                    lambda: Client(stats, packed, ready), "127.0.0.1", port
                )
            except OSError:
                return False
            transports.append(transport)
            try:
                return await asyncio.wait_for(ready, 30)
            except TimeoutError:
                return False

    results = await asyncio.gather(*(one() for _ in range(clients)))
    started = time.process_time()
    conn.send(("ready", sum(results)))
    await loop.run_in_executor(None, conn.recv)  # "stop"
    conn.send(
        (
            "done",
            stats.ticks,
            stats.dropped,
            stats.errors,
            stats.hist,
            time.process_time() - started,
        )
    )
    for transport in transports:
        transport.abort()


def load_main(port, clients, packed, first, last, conn) -> None:
    asyncio.run(_load(port, clients, packed, first, last, conn))
