"""``python -m bench ws``'s load generator: raw-socket WebSocket clients in their own processes
(``bench/stream_client.py``).

Each client does the handshake, reads frame headers, answers pings, and JSON-parses only a
sample of what it receives: it counts ticks (``"seq"`` occurrences) and reads the first tick's
``seq`` and ``timestamp`` of each frame, so latency is measured on every frame and loss exactly.
"""

import json
from functools import partial

from .stream_client import SAMPLE_EVERY, SYMBOLS, FrameClient, run_clients

__all__ = ["Client", "load_main"]


class Client(FrameClient):
    """A ``/ws`` client: no parsing beyond frame headers and two numbers a frame."""

    def __init__(self, stats, ready, *, subscribe: bytes) -> None:
        super().__init__(stats, ready)
        self.subscribe = subscribe

    def on_open(self) -> None:
        self.send(1, self.subscribe)

    def on_message(self, opcode: int, payload: bytes, now: float) -> None:
        stats = self.stats
        i = payload.find(b'"seq":')
        if i < 0:
            if b'"subscribed"' in payload and not self.ready.done():
                self.ready.set_result(True)
            elif b'"error"' in payload:
                stats.errors += 1
            return
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
            stats.latency(now, int(payload[k + 12 : payload.find(b",", k)]))


def load_main(port, clients, batch, first, last, conn) -> None:
    message = {"type": "subscribe", "tickers": list(SYMBOLS)}
    if batch:
        message["batch"] = True
    subscribe = json.dumps(message).encode()
    run_clients(port, clients, partial(Client, subscribe=subscribe), first, last, conn)
