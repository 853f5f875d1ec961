"""One connection's playback, whatever the dialect: checked, counted, played, ended once.

``open_range`` checks a request against the stored data and the limits (``Refused`` with a
code otherwise, nothing held); ``PlaybackRun`` plays it into the connection's outbox as a task
the connection can pause, resume and stop, and calls ``on_end(progress, reason)`` exactly once:
``"end"`` (the range is done), ``"stopped"``, ``"error"`` (the database failed mid-way) or
``"closed"`` (the connection went away, nothing more is sent).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings
from django.db import DatabaseError

from ticks.market_clock import open_time
from ticks.market_time import market_now_ms
from ticks.playback_reads import PlaybackRefused, PlaybackTicker, playback_range_check

from . import limits
from .pacer import Pacer
from .player import Player, Progress
from .request import Range
from .source import PlaybackSource, run_read

WILDCARD = "*"  # every ticker, in both vendor dialects

logger = logging.getLogger(__name__)

TOO_MANY_PLAYBACKS = "too_many_playbacks"
UNAVAILABLE = "unavailable"


class Refused(Exception):
    def __init__(self, code: str, message: str, **extra) -> None:
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra


async def check_range(*, symbols, playback_range: Range) -> list[PlaybackTicker]:
    """The tickers of a range that may be played back (``symbols`` None: all), or ``Refused``."""
    now_ms = market_now_ms()
    try:
        return await run_read(
            lambda: playback_range_check(
                symbols=symbols,
                start_ms=playback_range.start_ms,
                end_ms=playback_range.end_ms,
                now_ms=now_ms,
            )
        )
    except PlaybackRefused as e:
        raise Refused(e.code, e.message, **e.extra) from None
    except DatabaseError:
        logger.warning("playback: checking a range failed", exc_info=True)
        raise Refused(UNAVAILABLE, "stored data is unavailable for a moment; try again") from None


async def take_slot(key_id: int | None) -> limits.Slot:
    """A place under the limits, or ``Refused`` (``too_many_playbacks``)."""
    try:
        return await limits.acquire(key_id)
    except limits.LimitReached as e:
        raise Refused(TOO_MANY_PLAYBACKS, str(e)) from None


async def open_range(
    *, symbols, playback_range: Range, key_id: int | None
) -> tuple[list[PlaybackTicker], limits.Slot]:
    """The tickers to play and a slot under the limits, or ``Refused`` (nothing held)."""
    tickers = await check_range(symbols=symbols, playback_range=playback_range)
    return tickers, await take_slot(key_id)


class PlaybackRun:
    def __init__(
        self,
        *,
        tickers: list[PlaybackTicker],
        playback_range: Range,
        outbox,
        render: Callable,
        slot: limits.Slot,
        on_end: Callable[[Progress, str], None],
        ticks: bool = True,
        bars: bool = False,
    ) -> None:
        self.tickers = tickers
        self.range = playback_range
        self.slot = slot
        self.on_end = on_end
        self.pacer = Pacer(playback_range.start_ms, playback_range.speed)
        source = PlaybackSource(
            tickers, playback_range.start_ms, playback_range.end_ms, ticks=ticks, bars=bars
        )
        self.player = Player(
            source, self.pacer, outbox, render, max_rate=settings.PLAYBACK_MAX_RATE
        )
        self._task: asyncio.Task | None = None
        self._ended = False
        self._stop_reason = "stopped"

    @property
    def progress(self) -> Progress:
        return self.player.progress

    @property
    def done(self) -> bool:
        return self._ended

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def pause(self) -> None:
        self.pacer.pause()

    def resume(self) -> None:
        self.pacer.resume()

    async def _follow_open_time(self) -> None:
        """At a paced speed, pace by the tickers' open time (their calendars' closed periods
        pass at once); read in a thread (a calendar's first use builds it)."""
        if self.range.speed is None:
            return
        timeline = await asyncio.to_thread(
            open_time,
            [(t.calendar, t.extended_hours) for t in self.tickers],
            start_ms=self.range.start_ms,
            end_ms=self.range.end_ms,
        )
        self.pacer.follow(timeline)

    async def _run(self) -> None:
        reason = "end"
        try:
            await self._follow_open_time()
            await self.player.run()
            if self.player.outbox.closed:
                reason = "closed"
        except asyncio.CancelledError:
            reason = self._stop_reason
        except Exception:
            logger.warning("playback failed while reading the range", exc_info=True)
            reason = "error"
        await self._end(reason)

    async def _end(self, reason: str) -> None:
        if self._ended:
            return
        self._ended = True
        await self.slot.release()
        self.on_end(self.progress, reason)

    async def stop(self, reason: str = "stopped") -> None:
        """Stop playing (``on_end`` with ``reason``, unless it already ended)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            self._stop_reason = reason
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if not self._ended:
            await self._end(reason)


async def start_vendor_playback(
    consumer,
    played: set[str],
    *,
    outbox,
    render: Callable[[dict[str, int]], Callable],
    on_end: Callable[[Progress, str], None],
    ticks: bool,
    bars: bool,
    refuse: Callable[[str], Awaitable[None]],
) -> PlaybackRun | None:
    """A vendor stream's playback (Alpaca, Massive), started by the first subscribe that names a
    symbol: the connection's checked tickers that ``played`` names (``"*"``: all of them), under
    a playback slot of its key. ``render(seeds)`` makes the dialect's renderer (quote sizes come
    from the tickers' seeds); without a free slot, ``refuse(message)`` and None."""
    tickers = consumer.tickers
    if WILDCARD not in played:
        tickers = [t for t in tickers if t.symbol in played]
    try:
        slot = await take_slot(consumer.key_id)
    except Refused as e:
        await refuse(f"playback limit exceeded: {e.message}")
        return None
    run = PlaybackRun(
        tickers=tickers,
        playback_range=consumer.range,
        outbox=outbox,
        render=render({t.symbol: t.seed for t in tickers}),
        slot=slot,
        on_end=on_end,
        ticks=ticks,
        bars=bars,
    )
    run.start()
    return run
