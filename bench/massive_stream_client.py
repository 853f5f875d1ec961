"""``bench/massive_stream.py``'s load generator: raw-socket Massive stream clients (``/stocks``)
in their own processes, measured like ``bench/ws_client.py``'s: ``bench/stream_client.py``'s
client (handshake, frames, pings) sending JSON as ``bench/alpaca_stream_client.py``'s does.

Each client does the handshake, sends ``auth`` when ``connected``, then ``subscribe`` to
``T.<sym>,Q.<sym>`` of the five tickers, and is ready once the ten subscriptions are confirmed.
Per frame it counts the trades (``ev: "T"``) when their ``q`` (the tick's seq, the same for a
cycle's ticks) is in the measured window and takes the latency of the frame's first message
(receipt - its ``t``, the publish time in epoch ms), reading the frame as ``bench/ws_client.py``
reads ``/ws``'s: the numbers found in the text, one frame in ``SAMPLE_EVERY`` parsed whole.
"""

import json

from . import alpaca_stream_client
from .stream_client import SAMPLE_EVERY, SYMBOLS, run_clients

AUTH = {"action": "auth", "params": "bench"}
SUBSCRIBE = {
    "action": "subscribe",
    "params": ",".join(f"{c}.{s}" for s in SYMBOLS for c in ("T", "Q")),
}
TOPICS = 2 * len(SYMBOLS)
DIGITS = frozenset(b"0123456789")


class Client(alpaca_stream_client.Client):
    PATH = "/stocks"

    def __init__(self, stats, ready) -> None:
        super().__init__(stats, ready)
        self.confirmed = 0

    def on_message(self, opcode: int, payload: bytes, now: float) -> None:
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
                stats.latency(now, sent)
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


def load_main(port, clients, _mode, first, last, conn) -> None:
    run_clients(port, clients, Client, first, last, conn)
