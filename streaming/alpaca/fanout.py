"""The Alpaca dialect's process-wide part, an observer of the process's hub
(``streaming.hub.Hub.observer``): it turns what the hub receives into ``Batch``es once, and
hands them to the process's Alpaca sessions.

- Ticks: each cycle's trades and quotes (``tick_batch``), built when the first session asks.
  Before the hub dispatches a cycle, ``prepare`` makes sure the seeds of its tickers are known.
- Minute bars (``T: "b"``): sent once closed (``streaming.minute_bars``: when a later bar of
  the same ticker appears). A bar that changes after it was sent goes out again as ``T: "u"``
  (updatedBars).
- Daily bars (``T: "d"``): when minute bars close, the day so far of those tickers (their ``1d``
  bar, rolled up by the same refresh) is read once for the process and sent.
- Trading statuses (``T: "s"``): a ticker deactivated (halted) or activated (trading) in the
  admin (``ticks.trading_status``), a halt event's start and end (``ticks.event_cycle``), and a
  calendar ticker's session opening and closing (``ticks.session_announce``), in the codes of
  ``ticks.alpaca_shapes.TRADING_STATUS_CODES``.
"""

import asyncio
import logging
from datetime import UTC, datetime

from asgiref.sync import sync_to_async

from ticks.deadline import read_within
from ticks.payloads import BarPayload, StatusPayload
from ticks.selectors import daily_bars

from ..minute_bars import MinuteCloses
from ..seeds import get_seeds
from .batches import Batch, bar_item, status_item, tick_batch

logger = logging.getLogger(__name__)

NAME = "alpaca"
KEEP_SENT = 3  # sent minute bars remembered per ticker (for updatedBars)
READ_DEADLINE_S = 2.0


class AlpacaFanout:
    def __init__(self, hub) -> None:
        self.hub = hub
        self.seeds = get_seeds(hub)
        self.minutes = MinuteCloses()  # which minute bars are closed
        self.sent: dict[str, dict[int, BarPayload]] = {}  # ticker -> time -> bar sent
        self._tasks: set[asyncio.Task] = set()

    def reset(self) -> None:
        self.minutes.reset()
        self.sent.clear()

    # --- from the hub ---------------------------------------------------------------------

    async def prepare(self, message: dict) -> None:
        if message.get("type") == "market.ticks":
            await self.seeds.ensure({t["ticker"] for t in message["ticks"]})

    def ticks(self, cycle) -> Batch:
        """The cycle's trades and quotes (built once per cycle)."""
        batch = cycle.ext.get(NAME)
        if batch is None:
            batch = cycle.ext[NAME] = tick_batch(cycle.ticks, self.seeds.get)
        return batch

    def on_bars(self, update) -> None:
        closed, late = self.minutes.feed(update.bars)
        items = []
        for bar in closed:
            items.append(bar_item("bars", "b", bar))
            self._remember(bar)
        for bar in late:
            sent = self.sent.get(bar.ticker, {}).get(bar.time_ms)
            if sent is not None and sent != bar:
                items.append(bar_item("updatedBars", "u", bar))
                self._remember(bar)
        if items:
            self.dispatch(Batch(items))
        if closed:
            self._spawn(self._send_daily(closed))

    def on_statuses(self, statuses: list[dict]) -> None:
        items = [
            status_item(StatusPayload(s["ticker"], s["status"], s["time"], s.get("reason", "")))
            for s in statuses
        ]
        if items:
            self.dispatch(Batch(items))

    # --- helpers ------------------------------------------------------------------------------

    def dispatch(self, batch: Batch) -> None:
        for session in list(self.hub.sessions):
            take = getattr(session, "on_alpaca", None)
            if take is not None:
                take(batch)

    def _remember(self, bar: BarPayload) -> None:
        sent = self.sent.setdefault(bar.ticker, {})
        sent[bar.time_ms] = bar
        while len(sent) > KEEP_SENT:
            del sent[min(sent)]

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_daily(self, closed: list[BarPayload]) -> None:
        """The day so far (``1d`` bars) of the tickers whose minute bars just closed: each
        ticker's day holding the minute (``ticks.session_days``)."""
        minutes: dict[int, set[str]] = {}
        for bar in closed:
            minutes.setdefault(bar.time_ms, set()).add(bar.ticker)
        items = []
        for minute_ms, symbols in sorted(minutes.items()):
            at = datetime.fromtimestamp(minute_ms / 1000, UTC)
            chosen = sorted(symbols)
            try:
                bars = await sync_to_async(read_within, thread_sensitive=False)(
                    lambda at=at, chosen=chosen: daily_bars(at=at, symbols=chosen),
                    key=("alpaca-daily", minute_ms, tuple(chosen)),
                    timeout=READ_DEADLINE_S,
                    what="daily bars",
                )
            except Exception:
                logger.warning("reading the daily bars failed; none sent this minute")
                return
            items += [bar_item("dailyBars", "d", b) for b in bars if b.ticker in symbols]
        if items:
            self.dispatch(Batch(items))


def get_fanout(hub) -> AlpacaFanout:
    return hub.observer(NAME, AlpacaFanout)
