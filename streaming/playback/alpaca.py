"""The Alpaca playback feed, ``/v2/playback?start=...&end=...&speed=...``: a stored range served
exactly as the live feed ``/v2/{feed}`` serves the market, for ``StockDataStream(url_override=
"ws://host:port/v2/playback?start=...&end=...&speed=60")``.

Same handshake, authentication, subscribe and unsubscribe, encodings (JSON or msgpack), errors
and message shapes as the live feed (``streaming.alpaca``). The range is checked when the client
connects (a bad one: ``[{"T": "error", "code": 400, "msg": "invalid playback: ..."}]``, closed
4008). The playback starts with the first subscribe that names a symbol: the symbols of its
``trades``, ``quotes`` and ``bars`` (``"*"``: every ticker) are played, each tick as a trade and
a quote (``t``, ``i`` the original time and seq) and the minute bars as they close (``b``);
later subscribes and unsubscribes only choose among those. Symbols we do not store have no data,
as on the live feed. ``dailyBars``, ``updatedBars`` and ``statuses`` are not played back.

At the end of the range: ``[{"T": "success", "msg": "playback complete", "trades": n, "bars":
m}]``, and the connection stays open and idle (alpaca-py reconnects whenever a connection
closes, and would play the range again). Connect again to play it again. A second playback past
``PLAYBACK_MAX_PER_KEY`` or ``PLAYBACK_MAX_PER_PROCESS``: 406 (``playback limit exceeded``,
closed); the database failing mid-way: 500 and the connection stays open.
"""

import logging
from urllib.parse import parse_qs

from django.conf import settings

from ticks.alpaca_shapes import quote_fields, tick_sizes, trade_fields

from ..alpaca import protocol
from ..alpaca.batches import Batch, Item, bar_item
from ..alpaca.consumer import AlpacaConsumer
from ..alpaca.protocol import AlpacaError, Code, Subscribe
from ..alpaca.session import AlpacaSession
from . import request
from .player import Progress
from .run import PlaybackRun, Refused, check_range, start_vendor_playback
from .source import TICK, Event

logger = logging.getLogger(__name__)

PLAYED_CHANNELS = ("trades", "quotes", "bars")
COMPLETE = "playback complete"


def render(codec, seeds: dict[str, int], session: AlpacaSession, events: list[Event]) -> list:
    """The frame (at most one) of ``events`` as trades, quotes and bars the session wants."""
    ticks = [e.payload for e in events if e.kind == TICK]
    sizes: dict[tuple[str, int], tuple[int, int]] = {}
    by_symbol: dict[str, list] = {}
    for tick in ticks:
        by_symbol.setdefault(tick.ticker, []).append(tick)
    for symbol, group in by_symbol.items():
        bids, asks = tick_sizes(seeds[symbol], group)
        for tick, bid, ask in zip(group, bids, asks):
            sizes[(symbol, tick.seq)] = (bid, ask)
    items: list[Item] = []
    for event in events:
        payload = event.payload
        if event.kind != TICK:
            items.append(bar_item("bars", "b", payload))
            continue
        bid, ask = sizes[(payload.ticker, payload.seq)]
        items.append(
            Item("trades", payload.ticker, "t", payload.time_ms,
                 lambda t, k=payload: trade_fields(k, t))
        )  # fmt: skip
        items.append(
            Item("quotes", payload.ticker, "q", payload.time_ms,
                 lambda t, k=payload, b=bid, a=ask: quote_fields(k, t, b, a))
        )  # fmt: skip
    frame = session.frame_for(Batch(items))
    return [frame] if frame is not None else []


class AlpacaPlaybackSession(AlpacaSession):
    """Subscriptions as on the live feed; the first one naming a symbol starts the playback."""

    def __init__(self, outbox, *, codec, consumer, max_symbols: int) -> None:
        super().__init__(
            outbox, codec=codec, hub=None, fanout=None, alias=None, max_symbols=max_symbols
        )
        self.consumer = consumer
        self.run: PlaybackRun | None = None

    async def subscribe(self, request: Subscribe) -> None:
        after = {c: dict(names) for c, names in self.subs.items()}
        for channel, symbols in request.channels.items():
            after[channel].update(dict.fromkeys(symbols))
        if len({s for names in after.values() for s in names}) > self.max_symbols:
            raise AlpacaError(Code.SYMBOL_LIMIT)
        self.subs = after
        self._reply()
        played = {s for c in PLAYED_CHANNELS for s in self.subs[c]}
        if self.run is None and played:
            await self._start(played)

    async def _start(self, played: set[str]) -> None:
        codec = self.codec
        self.run = await start_vendor_playback(
            self.consumer,
            played,
            outbox=self.outbox,
            render=lambda seeds: lambda events: render(codec, seeds, self, events),
            on_end=self._ended,
            ticks=bool(self.subs["trades"] or self.subs["quotes"]),
            bars=bool(self.subs["bars"]),
            refuse=lambda message: self.consumer.fail_with(Code.CONNECTION_LIMIT, message),
        )

    def on_ticks(self, cycle) -> None:  # never registered with the hub: no live data
        pass

    def _ended(self, progress: Progress, reason: str) -> None:
        if reason == "closed":
            return
        if reason == "error":
            self.outbox.put(
                protocol.error(
                    self.codec, Code.INTERNAL, "playback failed: stored data unavailable"
                )
            )
            return
        self.outbox.put(
            protocol.control(
                self.codec,
                {"T": "success", "msg": COMPLETE, "trades": progress.ticks, "bars": progress.bars},
            )
        )

    async def close(self) -> None:
        if self.run is not None:
            await self.run.stop("closed")


class AlpacaPlaybackConsumer(AlpacaConsumer):
    """``/v2/playback``: the live feed's consumer with a playback session."""

    stream_protocol = "playback"

    range: request.Range | None = None
    tickers: list = []

    def make_session(self, feed: str) -> AlpacaPlaybackSession:
        return AlpacaPlaybackSession(
            self.outbox, codec=self.codec, consumer=self, max_symbols=settings.WS_MAX_SUBSCRIPTIONS
        )

    async def connect(self) -> None:
        refusal = None
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        one = {name: (query.get(name) or [None])[0] for name in ("start", "end", "speed")}
        try:
            self.range = request.parse_range(one["start"], one["end"], one["speed"])
            self.tickers = await check_range(symbols=None, playback_range=self.range)
        except (request.BadRequest, Refused) as e:
            refusal = e
        await super().connect()
        if refusal is not None:
            code = Code.INTERNAL if refusal.code == "unavailable" else Code.INVALID_SYNTAX
            await self.fail_with(code, f"invalid playback: {refusal.message} ({refusal.code})")
