"""What the stream benchmarks' load generators share: a raw-socket WebSocket client that reads
frame headers and answers pings (each dialect's client says what to do with a message), the
latency histogram, and the harness that connects N clients in a process and reports to the
benchmark through a pipe (``run_clients``).

The clients parse as little as they can (see each dialect's module): their CPU shares the
machine with the server they measure.
"""

import asyncio
import base64
import os
import struct
import time

HIST_MS = 5000  # latency histogram: 1 ms buckets up to 5 s, then one overflow bucket
CONNECT_CONCURRENCY = 64
SAMPLE_EVERY = 256  # frames; one in this many is fully parsed as a shape check
SYMBOLS = ("ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH")
READY_TIMEOUT_S = 30


class Stats:
    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last
        self.ticks = self.dropped = self.errors = self.frames = 0
        self.hist = [0] * (HIST_MS + 1)

    def latency(self, now_ms: float, sent_ms: float) -> None:
        self.hist[min(max(int(now_ms - sent_ms), 0), HIST_MS)] += 1


class FrameClient(asyncio.Protocol):
    """A minimal WebSocket client of ``PATH``: the handshake (plus ``extra_headers``), then
    ``on_open()`` once upgraded and ``on_message(opcode, payload, now_ms)`` for each text or
    binary frame; pings answered, a close counted as a drop. ``ready`` is set True by the
    dialect once subscribed, False if the connection ends first."""

    PATH = "/ws"

    def __init__(self, stats: Stats, ready: asyncio.Future) -> None:
        self.stats, self.ready = stats, ready
        self.buf = bytearray()
        self.upgraded = False
        self.transport = None
        self.closed = False

    def extra_headers(self) -> str:
        return ""

    def on_open(self) -> None:
        pass

    def on_message(self, opcode: int, payload: bytes, now: float) -> None:
        raise NotImplementedError

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {self.PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n{self.extra_headers()}"
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
            self.on_open()
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
                self.on_message(opcode, payload, now)
            elif opcode == 9:
                self.send(0xA, payload)
            elif opcode == 8:
                self.closed = True
                self.stats.dropped += 1
                self.transport.close()
        del buf[:pos]


async def _clients(port: int, clients: int, make_client, first: int, last: int, conn) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats(first, last)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    transports = []

    async def one() -> bool:
        async with gate:
            ready = loop.create_future()
            try:
                transport, _ = await loop.create_connection(
                    lambda: make_client(stats, ready), "127.0.0.1", port
                )
            except OSError:
                return False
            transports.append(transport)
            try:
                return await asyncio.wait_for(ready, READY_TIMEOUT_S)
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


def run_clients(port: int, clients: int, make_client, first: int, last: int, conn) -> None:
    """Connects ``clients`` clients (``make_client(stats, ready)``) to 127.0.0.1:``port``, sends
    ``("ready", how many got ready)`` on ``conn``, counts until ``conn`` says stop, then sends
    ``("done", ticks, dropped, errors, latency histogram, CPU seconds)`` for the seqs
    ``first``..``last``."""
    asyncio.run(_clients(port, clients, make_client, first, last, conn))
