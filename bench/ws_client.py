"""``python -m bench ws``'s load generator: raw-socket WebSocket clients in their own processes.

Each client does the handshake, reads frame headers, answers pings, and JSON-parses only a
sample of what it receives: it counts ticks (``"seq"`` occurrences) and reads the first tick's
``seq`` and ``timestamp`` of each frame, so latency is measured on every frame and loss exactly.
"""

import asyncio
import base64
import json
import os
import struct
import time

HIST_MS = 5000  # latency histogram: 1 ms buckets up to 5 s, then one overflow bucket
CONNECT_CONCURRENCY = 64
SAMPLE_EVERY = 256  # frames; one in this many is fully parsed as a shape check
SYMBOLS = ("ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH")


class Client(asyncio.Protocol):
    """A minimal WebSocket client: no parsing beyond frame headers and two numbers a frame."""

    def __init__(self, stats: "Stats", subscribe: bytes, ready: asyncio.Future) -> None:
        self.stats, self.subscribe, self.ready = stats, subscribe, ready
        self.buf = bytearray()
        self.upgraded = False
        self.transport = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
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
            self.send(1, self.subscribe)
        now = time.time() * 1000
        stats = self.stats
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
            if opcode == 1:
                i = payload.find(b'"seq":')
                if i < 0:
                    if b'"subscribed"' in payload and not self.ready.done():
                        self.ready.set_result(True)
                    elif b'"error"' in payload:
                        stats.errors += 1
                    continue
                seq = int(payload[i + 6 : payload.find(b"}", i)])
                stats.frames += 1
                if not stats.frames % SAMPLE_EVERY and json.loads(payload)["type"] not in (
                    "tick",
                    "ticks",
                ):
                    stats.errors += 1
                if stats.first <= seq <= stats.last:
                    stats.ticks += payload.count(b'"seq"')
                    k = payload.find(b'"timestamp":')
                    latency = int(now - int(payload[k + 12 : payload.find(b",", k)]))
                    stats.hist[min(max(latency, 0), HIST_MS)] += 1
            elif opcode == 9:
                self.send(0xA, payload)
            elif opcode == 8:
                self.closed = True
                stats.dropped += 1
                self.transport.close()
        del buf[:pos]


class Stats:
    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last
        self.ticks = self.dropped = self.errors = self.frames = 0
        self.hist = [0] * (HIST_MS + 1)


async def _load(port: int, clients: int, batch: bool, first: int, last: int, conn) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats(first, last)
    message = {"type": "subscribe", "tickers": list(SYMBOLS)}
    if batch:
        message["batch"] = True
    subscribe = json.dumps(message).encode()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    transports = []

    async def one() -> bool:
        async with gate:
            ready = loop.create_future()
            try:
                transport, _ = await loop.create_connection(
                    lambda: Client(stats, subscribe, ready), "127.0.0.1", port
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


def load_main(port, clients, batch, first, last, conn) -> None:
    asyncio.run(_load(port, clients, batch, first, last, conn))
