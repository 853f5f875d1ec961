"""``bench/massive_stream.py``'s load generator: raw-socket Massive stream clients (``/stocks``)
in their own processes, measured like ``bench/ws_client.py``'s and built on
``bench/alpaca_stream_client.py``'s client (handshake, frames, pings).

Each client does the handshake, sends ``auth`` when ``connected``, then ``subscribe`` to
``T.<sym>,Q.<sym>`` of the five tickers, and is ready once the ten subscriptions are confirmed.
Per frame it counts the trades (``ev: "T"``) when their ``q`` (the tick's seq, the same for a
cycle's ticks) is in the measured window and takes the latency of the frame's first message
(receipt - its ``t``, the publish time in epoch ms), reading the frame as ``bench/ws_client.py``
reads ``/ws``'s: the numbers found in the text, one frame in ``SAMPLE_EVERY`` parsed whole.
"""

import asyncio
import base64
import json
import os
import time

from . import alpaca_stream_client
from .ws_client import CONNECT_CONCURRENCY, HIST_MS, SAMPLE_EVERY, SYMBOLS, Stats

AUTH = {"action": "auth", "params": "bench"}
SUBSCRIBE = {
    "action": "subscribe",
    "params": ",".join(f"{c}.{s}" for s in SYMBOLS for c in ("T", "Q")),
}
TOPICS = 2 * len(SYMBOLS)
DIGITS = frozenset(b"0123456789")


class Client(alpaca_stream_client.Client):
    def __init__(self, stats: Stats, ready: asyncio.Future) -> None:
        super().__init__(stats, False, ready)
        self.confirmed = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /stocks HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def on_message(self, payload: bytes, now: float) -> None:
        """As ``bench/ws_client.py`` reads ``/ws``: a data frame (a cycle's trades and quotes,
        all of one ``seq``) is read for its first ``q`` and ``t`` and its trades counted, without
        parsing it; one in ``SAMPLE_EVERY`` is parsed whole as a shape check."""
        stats = self.stats
        i = payload.find(b'"q":')
        if i >= 0:
            stats.frames += 1
            if not stats.frames % SAMPLE_EVERY and any(
                m["ev"] not in ("T", "Q") for m in json.loads(payload)
            ):
                stats.errors += 1
            end = i + 4
            while payload[end] in DIGITS:
                end += 1
            if stats.first <= int(payload[i + 4 : end]) <= stats.last:
                stats.ticks += payload.count(b'"ev":"T"')
                k = payload.find(b'"t":')
                sent = int(payload[k + 4 : payload.find(b",", k)])
                stats.hist[min(max(int(now - sent), 0), HIST_MS)] += 1
            return
        for m in json.loads(payload):
            status = m.get("status")
            if status == "connected":
                self.send_message(AUTH)
            elif status == "auth_success":
                self.send_message(SUBSCRIBE)
            elif status == "success":
                self.confirmed += 1
                if self.confirmed == TOPICS and not self.ready.done():
                    self.ready.set_result(True)
            else:
                stats.errors += 1


async def _load(port: int, clients: int, first: int, last: int, conn) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats(first, last)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    transports = []

    async def one() -> bool:
        async with gate:
            ready = loop.create_future()
            try:
                transport, _ = await loop.create_connection(
                    lambda: Client(stats, ready), "127.0.0.1", port
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


def load_main(port, clients, _mode, first, last, conn) -> None:
    asyncio.run(_load(port, clients, first, last, conn))
