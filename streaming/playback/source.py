"""A playback's range as chunks of events in time order, read from PostgreSQL page by page.

Ticks and minute bars come from their own keyset pages (``ticks.playback_reads``) and are merged
here. Each stream reads one page ahead while the current one is played (a page is a single
indexed statement), so the next page is usually there when it is wanted, and a playback holds at
most two pages of each kind. Reads run in a small thread pool of playback's own (not the
request threads, not ``ticks.deadline``'s pool, which subscribes and key checks rely on).
"""

import asyncio
import heapq
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection

from ticks.payloads import BarPayload, TickPayload
from ticks.playback_reads import (
    MINUTE_MS,
    PlaybackTicker,
    playback_bars_page,
    playback_ticks_page,
)

logger = logging.getLogger(__name__)

TICK_PAGE = 2000
BAR_PAGE = 500
READ_THREADS = 2
FIRST_SLICE_MS = 60_000
MAX_SLICE_MS = 86_400_000

TICK, BAR = 1, 0  # a bar due at an instant goes before that instant's ticks


class Event(NamedTuple):
    at_ms: int  # when it is due, in market time (a bar: its close)
    kind: int  # BAR or TICK
    index: int  # the ticker's index in the playback's tickers
    payload: TickPayload | BarPayload


_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="playback")
    return _executor


def _in_thread(read):
    try:
        return read()
    finally:
        connection.close()  # back to the pool: a waiting playback holds no connection


async def run_read(read):
    """``read()`` (a database read) in the playback threads."""
    return await asyncio.get_running_loop().run_in_executor(_pool(), _in_thread, read)


class _Pages:
    """One kind of event, page by page, one page read ahead.

    Each read covers a slice of the range (``slice_ms`` of market time from the cursor), so its
    range scans are short whatever the planner thinks of the table (on a table not analyzed
    since a backfill, a whole-day scan sorted for one page cost 0.7 s): a slice that fills a page
    continues from the page's last row, one that does not ends the slice, and the next slice is
    twice as long (at most ``MAX_SLICE_MS``)."""

    def __init__(self, read, page: int, event, *, start_ms: int, end_ms: int, cursor_at) -> None:
        self.read, self.page, self.event = read, page, event
        self.start_ms, self.end_ms = start_ms, end_ms
        self.cursor_at = cursor_at  # slice end -> the cursor just before it
        self.after: tuple[int, int] | None = None
        self.slice_ms = FIRST_SLICE_MS
        self.done = False
        self._ahead: asyncio.Future | None = None

    def _fetch(self) -> asyncio.Future:
        after, page = self.after, self.page
        lo = self.start_ms if after is None else after[0]
        hi = min(self.end_ms, lo + self.slice_ms)
        return asyncio.ensure_future(
            run_read(lambda: (hi, self.read(after=after, limit=page, end_ms=hi)))
        )

    async def next_page(self) -> list[Event]:
        if self.done:
            return []
        ahead = self._ahead or self._fetch()
        self._ahead = None
        hi, rows = await ahead
        if len(rows) == self.page:
            last_index, last = rows[-1]
            self.after = (last.time_ms, last_index)
        elif hi >= self.end_ms:
            self.done = True
        else:
            self.after = self.cursor_at(hi)
            self.slice_ms = min(MAX_SLICE_MS, self.slice_ms * 2)
        if not self.done:
            self._ahead = self._fetch()
        return [self.event(index, payload) for index, payload in rows]

    def cancel(self) -> None:
        if self._ahead is not None:
            self._ahead.cancel()
            self._ahead = None


def _tick_event(index: int, tick: TickPayload) -> Event:
    return Event(tick.time_ms, TICK, index, tick)


def _bar_event(index: int, bar: BarPayload) -> Event:
    return Event(bar.time_ms + MINUTE_MS, BAR, index, bar)


def _key(event: Event) -> tuple[int, int, int]:
    return event.at_ms, event.kind, event.index


@dataclass
class PlaybackSource:
    tickers: list[PlaybackTicker]
    start_ms: int
    end_ms: int
    ticks: bool = True
    bars: bool = False

    async def chunks(self):
        """Lists of events in time order, each at most about a page long."""
        streams: list[_Pages] = []
        last = len(self.tickers) - 1
        if self.ticks:
            streams.append(
                _Pages(
                    lambda **kw: playback_ticks_page(
                        tickers=self.tickers, start_ms=self.start_ms, **kw
                    ),
                    TICK_PAGE,
                    _tick_event,
                    start_ms=self.start_ms,
                    end_ms=self.end_ms,
                    cursor_at=lambda hi: (hi - 1, last),
                )
            )
        if self.bars:
            streams.append(
                _Pages(
                    lambda **kw: playback_bars_page(
                        tickers=self.tickers, start_ms=self.start_ms, **kw
                    ),
                    BAR_PAGE,
                    _bar_event,
                    start_ms=self.start_ms,
                    end_ms=self.end_ms,
                    cursor_at=lambda hi: (hi - MINUTE_MS, last),
                )
            )
        buffers: list[list[Event]] = [[] for _ in streams]
        try:
            while True:
                for i, stream in enumerate(streams):
                    while not buffers[i] and not stream.done:  # a slice may be empty
                        buffers[i] = await stream.next_page()
                if not any(buffers):
                    return
                # Events up to the earliest last event of a stream that has more to come: beyond
                # it, that stream's next page may hold earlier ones.
                horizon = min(
                    (buffers[i][-1].at_ms for i, s in enumerate(streams) if not s.done),
                    default=None,
                )
                parts = []
                for i, buffer in enumerate(buffers):
                    if horizon is None:
                        cut = len(buffer)
                    else:
                        cut = len(buffer)
                        while cut and buffer[cut - 1].at_ms > horizon:
                            cut -= 1
                    parts.append(buffer[:cut])
                    buffers[i] = buffer[cut:]
                chunk = parts[0] if len(parts) == 1 else list(heapq.merge(*parts, key=_key))
                if chunk:
                    yield chunk
        finally:
            for stream in streams:
                stream.cancel()
