"""The Massive playback feed, ``/playback/<start>/<end>/<speed>/stocks``: a stored range served
exactly as the live stream ``/stocks`` serves the market, for the ``massive`` client's
``WebSocketClient(api_key, feed="host:port/playback/<start>/<end>/<speed>", market="stocks",
secure=False)`` (the client connects to ``ws://{feed}/{market}``, so the range rides in the
feed part).

``start`` and ``end``: epoch milliseconds (simplest in a URL) or ISO 8601 with a zone
(``2026-03-02T14:30:00Z``; no ``/``, ``?``, ``#``, ``%`` or spaces), ``speed`` a multiple of
market time or ``max`` (``streaming.playback.request``). Same handshake, authentication,
subscribe and unsubscribe, statuses and message shapes as the live stream
(``streaming.massive``). The range is checked when the client connects (a bad one: ``[{"ev":
"status", "status": "error", "message": "invalid playback: ..."}]``, closed 4008). The playback
starts with the first subscribe that names a symbol: the symbols of its ``T``, ``Q`` and ``AM``
topics (``*``: every ticker) are played, each tick as a trade and a quote (``t``, ``q`` the
original time and seq) and the minute bars as they close (``AM``, without the day's ``av``,
``op`` and ``a``); later subscribes and unsubscribes only choose among those. ``A`` (per-second
aggregates) is not played back.

At the end of the range: ``[{"ev": "status", "status": "success", "message": "playback
complete: n trades, m minute aggregates"}]``, then a normal close (1000), on which the client
stops (it reconnects only after an abnormal close). Connect again to play it again. A playback
past ``PLAYBACK_MAX_PER_KEY`` or ``PLAYBACK_MAX_PER_PROCESS``: an error status ``playback limit
exceeded: ...`` and the close (4008); the database failing mid-way: an error status and the
connection stays open.
"""

import asyncio
import logging

from django.conf import settings

from ticks.alpaca_shapes import tick_sizes
from ticks.massive_shapes import stream_quote, stream_trade

from ..batches import Batch
from ..massive import protocol
from ..massive.consumer import MassiveConsumer
from ..massive.fanout import Item, minute_message
from ..massive.protocol import Status, Subscribe
from ..massive.session import MassiveSession
from . import request
from .player import Progress
from .run import PlaybackRun, Refused, check_range, start_vendor_playback
from .source import TICK, Event

logger = logging.getLogger(__name__)

PLAYED_CHANNELS = ("T", "Q", "AM")
COMPLETE = "playback complete"
NORMAL_CLOSE = 1000


def items(seeds: dict[str, int], events: list[Event]) -> list[Item]:
    """The ``T``, ``Q`` and ``AM`` messages of ``events``, in order (quote sizes from the
    tickers' seeds, as on the live stream)."""
    sizes: dict[tuple[str, int], tuple[int, int]] = {}
    by_symbol: dict[str, list] = {}
    for event in events:
        if event.kind == TICK:
            by_symbol.setdefault(event.payload.ticker, []).append(event.payload)
    for symbol, group in by_symbol.items():
        bids, asks = tick_sizes(seeds[symbol], group)
        for tick, bid, ask in zip(group, bids, asks):
            sizes[(symbol, tick.seq)] = (int(bid), int(ask))
    out: list[Item] = []
    for event in events:
        payload = event.payload
        if event.kind != TICK:
            out.append(Item("AM", payload.ticker, lambda b=payload: minute_message(b, None)))
            continue
        bid, ask = sizes[(payload.ticker, payload.seq)]
        out.append(Item("T", payload.ticker, lambda k=payload: stream_trade(k)))
        out.append(Item("Q", payload.ticker, lambda k=payload, b=bid, a=ask: stream_quote(k, b, a)))
    return out


def render(seeds: dict[str, int], session: MassiveSession, events: list[Event]) -> list:
    """The frame (at most one) of ``events`` the session's subscriptions want."""
    frame = session.frame_for(Batch(items(seeds, events)))
    return [frame] if frame is not None else []


class MassivePlaybackSession(MassiveSession):
    """Subscriptions as on the live stream; the first one naming a symbol starts the playback."""

    def __init__(self, outbox, *, consumer, max_symbols: int) -> None:
        super().__init__(outbox, hub=None, fanout=None, max_symbols=max_symbols)
        self.consumer = consumer
        self.run: PlaybackRun | None = None

    async def subscribe(self, request: Subscribe) -> None:
        after = {c: dict(names) for c, names in self.subs.items()}
        for channel, symbol in request.topics:
            after[channel][symbol] = None
        if len({s for names in after.values() for s in names}) > self.max_symbols:
            raise protocol.MassiveError(
                f"subscription limit exceeded: at most {self.max_symbols} tickers per "
                "connection; nothing subscribed"
            )
        self._set(after)
        self._reply(request, "subscribed to")
        played = {s for c in PLAYED_CHANNELS for s in self.subs[c]}
        if self.run is None and played:
            await self._start(played)

    async def _start(self, played: set[str]) -> None:
        self.run = await start_vendor_playback(
            self.consumer,
            played,
            outbox=self.outbox,
            render=lambda seeds: lambda events: render(seeds, self, events),
            on_end=self._ended,
            ticks=bool(self.subs["T"] or self.subs["Q"]),
            bars=bool(self.subs["AM"]),
            refuse=lambda message: self.consumer.fail_with(Status.ERROR, message),
        )

    def on_ticks(self, cycle) -> None:  # never registered with the hub: no live data
        pass

    def _ended(self, progress: Progress, reason: str) -> None:
        if reason == "closed" or reason == "stopped":
            return
        if reason == "error":
            self.outbox.put(
                protocol.status(Status.ERROR, "playback failed: stored data unavailable")
            )
            return
        message = f"{COMPLETE}: {progress.ticks} trades, {progress.bars} minute aggregates"
        self.consumer.finish(protocol.status(Status.SUCCESS, message))

    async def close(self) -> None:
        if self.run is not None:
            await self.run.stop("closed")


class MassivePlaybackConsumer(MassiveConsumer):
    """``/playback/<start>/<end>/<speed>/stocks``: the live stream's consumer with a playback
    session."""

    stream_protocol = "playback"
    range: request.Range | None = None
    tickers: list = []
    _finishing: asyncio.Task | None = None

    def make_session(self) -> MassivePlaybackSession:
        return MassivePlaybackSession(
            self.outbox, consumer=self, max_symbols=settings.WS_MAX_SUBSCRIPTIONS
        )

    async def connect(self) -> None:
        refusal = None
        route = self.scope.get("url_route", {}).get("kwargs", {})
        try:
            self.range = request.parse_range(
                route.get("start"), route.get("end"), route.get("speed")
            )
            self.tickers = await check_range(symbols=None, playback_range=self.range)
        except (request.BadRequest, Refused) as e:
            refusal = e
        await super().connect()
        if refusal is not None:
            await self.fail_with(
                Status.ERROR, f"invalid playback: {refusal.message} ({refusal.code})"
            )

    def finish(self, last) -> None:
        """The range is done: what is queued, then ``last``, then a normal close."""
        self._finishing = asyncio.get_running_loop().create_task(self._finish(last))

    async def _finish(self, last) -> None:
        if self.closing:
            return
        self.outbox.put(last)
        try:
            await asyncio.wait_for(self.outbox.wait_below(0), 10.0)
        except TimeoutError:
            pass
        if self.closing:
            return
        self.closing = True
        await self.outbox.close()
        await self.close(code=NORMAL_CLOSE)
