"""The Massive dialect's process-wide part, an observer of the process's hub
(``streaming.hub.Hub.observer``): it turns what the hub receives into ``Batch``es once
(``streaming.batches``) and hands them to the process's Massive sessions. Idle (no state, no
work) while the process has no Massive session.

- Ticks: each cycle's trades (``T``) and quotes (``Q``), built when the first session asks
  (quote sizes from the tickers' seeds, ``streaming.seeds``, known before the hub
  dispatches the cycle). Before that, ``prepare`` feeds the cycle to the per-second aggregates
  (``aggregates.Seconds``) and sends the ``A`` of the seconds it closed.
- Minute aggregates (``AM``): a minute bar once closed (``streaming.minute_bars``), with the day
  so far through it read once for the process (``ticks.massive_reads.day_totals_through``,
  within ``READ_DEADLINE_S``; without ``av``/``op``/``a`` when the read fails).
- A ticker halted (``ticks.trading_status``), or whose market closes or breaks for lunch
  (``ticks.session_announce``), closes its open second at once. Massive's stream has no message
  for a trading status or a session's open and close, so nothing else is sent for them.
"""

import asyncio
import logging
from collections.abc import Callable

from asgiref.sync import sync_to_async

from ticks.deadline import read_within
from ticks.massive_reads import day_totals_through
from ticks.massive_shapes import stream_agg, stream_quote, stream_trade
from ticks.payloads import NOT_TRADING, BarPayload

from ..batches import Batch, sized_ticks
from ..minute_bars import MinuteCloses
from ..seeds import get_seeds
from .aggregates import MINUTE_MS, Seconds

logger = logging.getLogger(__name__)

NAME = "massive"
READ_DEADLINE_S = 2.0


class Item:
    """One message: its channel (``T``, ``Q``, ``A``, ``AM``), symbol and how it is built."""

    __slots__ = ("channel", "symbol", "build")

    def __init__(self, channel: str, symbol: str, build: Callable[[], dict]) -> None:
        self.channel, self.symbol, self.build = channel, symbol, build

    def message(self, codec) -> dict:
        return self.build()

    def renamed(self, symbol: str) -> "Item":
        return Item(self.channel, symbol, lambda: {**self.build(), "sym": symbol})


def tick_batch(ticks: list[dict], seed_of: Callable[[str], int | None]) -> Batch:
    """A trade and a quote for each tick of a published cycle, in order (no quote for a ticker
    whose seed is unknown: its sizes cannot be computed)."""
    payloads, sizes = sized_ticks(ticks, seed_of)
    items = []
    for i, tick in enumerate(payloads):
        items.append(Item("T", tick.ticker, lambda k=tick: stream_trade(k)))
        if i in sizes:
            bid, ask = sizes[i]
            items.append(Item("Q", tick.ticker, lambda k=tick, b=bid, a=ask: stream_quote(k, b, a)))
    return Batch(items)


def agg_items(messages: list[dict]) -> list[Item]:
    return [Item(m["ev"], m["sym"], lambda m=m: m) for m in messages]


def minute_message(bar: BarPayload, day) -> dict:
    return stream_agg(
        "AM",
        bar.ticker,
        start_ms=bar.time_ms,
        end_ms=bar.time_ms + MINUTE_MS,
        ohlc=(float(bar.open), float(bar.high), float(bar.low), float(bar.close)),
        volume=bar.volume,
        vwap=float(bar.vwap),
        trades=bar.trade_count,
        day=day,
    )


class MassiveFanout:
    def __init__(self, hub) -> None:
        self.hub = hub
        self.seeds = get_seeds(hub)
        self.sessions: set = set()
        self.minutes = MinuteCloses()
        self.seconds = Seconds(zone_of=self.seeds.zone)
        self._tasks: set[asyncio.Task] = set()

    def join(self, session) -> None:
        self.sessions.add(session)

    def leave(self, session) -> None:
        self.sessions.discard(session)
        if not self.sessions:
            self.reset()  # what it tracked goes stale while nobody listens

    def reset(self) -> None:
        self.minutes.reset()
        self.seconds.reset()

    # --- from the hub ---------------------------------------------------------------------

    async def prepare(self, message: dict) -> None:
        if not self.sessions or message.get("type") != "market.ticks":
            return
        ticks = message["ticks"]
        await self.seeds.ensure({t["ticker"] for t in ticks})
        closed = self.seconds.add(ticks)
        if closed:
            self.dispatch(Batch(agg_items(closed)))

    def ticks(self, cycle) -> Batch:
        """The cycle's trades and quotes (built once per cycle)."""
        batch = cycle.ext.get(NAME)
        if batch is None:
            batch = cycle.ext[NAME] = tick_batch(cycle.ticks, self.seeds.get)
        return batch

    def on_bars(self, update) -> None:
        if not self.sessions:
            return
        closed, _ = self.minutes.feed(update.bars)
        if closed:
            self._spawn(self._send_minutes(closed))

    def on_statuses(self, statuses: list[dict]) -> None:
        if not self.sessions:
            return
        messages = []
        for status in statuses:
            if status["status"] in NOT_TRADING:
                message = self.seconds.close_symbol(status["ticker"])
                if message is not None:
                    messages.append(message)
        if messages:
            self.dispatch(Batch(agg_items(messages)))

    # --- helpers ------------------------------------------------------------------------------

    def dispatch(self, batch: Batch) -> None:
        for session in list(self.sessions):
            session.on_massive(batch)

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_minutes(self, closed: list[BarPayload]) -> None:
        """The ``AM`` of the minute bars just closed, with the day so far through each."""
        by_minute: dict[int, list[str]] = {}
        for bar in closed:
            by_minute.setdefault(bar.time_ms, []).append(bar.ticker)
        totals: dict[tuple[int, str], object] = {}
        for minute, symbols in sorted(by_minute.items()):
            try:
                read = await sync_to_async(read_within, thread_sensitive=False)(
                    lambda m=minute, s=symbols: day_totals_through(
                        minute_ms=m, symbols=s, zones={x: self.seeds.zone(x) for x in s}
                    ),
                    key=("massive-day", minute, tuple(sorted(symbols))),
                    timeout=READ_DEADLINE_S,
                    what="the day's totals",
                )
            except Exception:
                logger.warning("reading the day's totals failed; AM sent without av, op, a")
                continue
            for symbol, day in read.items():
                totals[(minute, symbol)] = day
        messages = []
        for bar in closed:
            day = totals.get((bar.time_ms, bar.ticker))
            self.seconds.set_base(bar.ticker, bar.time_ms, day)
            messages.append(minute_message(bar, day))
        if self.sessions:
            self.dispatch(Batch(agg_items(messages)))


def get_fanout(hub) -> MassiveFanout:
    return hub.observer(NAME, MassiveFanout)
