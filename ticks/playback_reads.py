"""Playback: a stored range of ticks (and the minute bars that close in it) read again in time
order, in bounded pages, for the stream dialects to send at a chosen pace (selectors).

- ``playback_range_check`` says whether a range may be played back: known tickers, times in
  order, not longer than ``PLAYBACK_MAX_RANGE_SECONDS``, not older than the retention
  (``TICK_RETENTION_DAYS``), not in the future. Refusals are ``PlaybackRefused`` with a code.
- ``playback_ticks_page`` and ``playback_bars_page`` read one page of the range, all tickers
  merged in time order (ties by ticker, in the order given), after a keyset cursor ``(epoch ms,
  ticker index)``: each ticker's side is a range scan of the ticks' (or bars') primary key
  limited to the page size, so a page costs the same wherever it is in the range, and nothing
  but the page is ever in memory.

The window is ``start <= time < end`` for ticks. A minute bar ``[t, t + 1 min)`` belongs to the
range when it closes in it: ``start < t + 1 min <= end``; it is due at its close (``close_ms``),
just before the ticks of that instant (which belong to the next bar).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection

from .models import Ticker
from .payloads import BarPayload, TickPayload
from .series_reads import EPOCH_MS

__all__ = [
    "BAD_TIME",
    "MINUTE_MS",
    "RANGE_TOO_LONG",
    "RANGE_UNAVAILABLE",
    "UNKNOWN_TICKER",
    "PlaybackRefused",
    "PlaybackTicker",
    "playback_bars_page",
    "playback_range_check",
    "playback_ticks_page",
]

MINUTE_MS = 60_000


class PlaybackRefused(Exception):
    """A range that cannot be played back; ``code`` is one of the ``REFUSED_*`` codes."""

    def __init__(self, code: str, message: str, **extra) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


UNKNOWN_TICKER = "unknown_ticker"
BAD_TIME = "bad_time"
RANGE_TOO_LONG = "range_too_long"
RANGE_UNAVAILABLE = "range_unavailable"


@dataclass(frozen=True)
class PlaybackTicker:
    id: int
    symbol: str
    seed: int
    calendar: str = "24/7"
    extended_hours: bool = False


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def playback_range_check(
    *, symbols: Sequence[str] | None, start_ms: int, end_ms: int, now_ms: int
) -> list[PlaybackTicker]:
    """The tickers of a valid range (sorted by symbol; ``symbols`` None: every ticker), or
    ``PlaybackRefused``. Inactive tickers may be played back: their past is stored."""
    if end_ms <= start_ms:
        raise PlaybackRefused(BAD_TIME, "end must be after start")
    if end_ms > now_ms:
        raise PlaybackRefused(
            BAD_TIME, f"end {_iso(end_ms)} is in the future; playback serves stored ranges"
        )
    longest = settings.PLAYBACK_MAX_RANGE_SECONDS
    if end_ms - start_ms > longest * 1000:
        raise PlaybackRefused(
            RANGE_TOO_LONG,
            f"the range is {(end_ms - start_ms) / 1000:g} s long; at most "
            f"PLAYBACK_MAX_RANGE_SECONDS={longest} s may be played back at once",
        )
    oldest = now_ms - settings.TICK_RETENTION_DAYS * 86_400_000
    if start_ms < oldest:
        raise PlaybackRefused(
            RANGE_UNAVAILABLE,
            f"start {_iso(start_ms)} is older than the retention of "
            f"{settings.TICK_RETENTION_DAYS} days (TICK_RETENTION_DAYS): those ticks are gone",
        )
    rows = Ticker.objects.order_by("symbol").values_list(
        "id", "symbol", "seed", "calendar", "extended_hours"
    )
    if symbols is not None:
        rows = rows.filter(symbol__in=list(symbols))
    found = [PlaybackTicker(*row) for row in rows]
    if symbols is not None:
        unknown = sorted(set(symbols) - {t.symbol for t in found})
        if unknown:
            raise PlaybackRefused(
                UNKNOWN_TICKER,
                f"unknown ticker(s): {', '.join(unknown[:10])}; GET /api/v1/tickers lists them",
                tickers=unknown[:10],
            )
    return found


def _lower_bounds(count: int, start_ms: int, after: tuple[int, int] | None) -> list[datetime]:
    """Each ticker's first time at or after the cursor ``(ms, index)``: a ticker at or before
    the cursor's index starts 1 ms after its time (every time is on the millisecond grid)."""
    out = []
    for index in range(count):
        ms = start_ms
        if after is not None:
            at, at_index = after
            ms = max(ms, at + 1 if index <= at_index else at)
        out.append(datetime.fromtimestamp(ms / 1000, UTC))
    return out


_TICKS = (
    """SELECT s.ord - 1, r.ms, r.p, r.v, r.b, r.a, r.seq
  FROM unnest(%(ids)s::bigint[], %(lo)s::timestamptz[]) WITH ORDINALITY AS s(id, lo, ord)
 CROSS JOIN LATERAL (
    SELECT "time" AS ts, """
    + EPOCH_MS.format(col='"time"')
    + """ AS ms, (price * 100)::bigint AS p, volume AS v,
           (bid * 100)::bigint AS b, (ask * 100)::bigint AS a, seq
      FROM ticks_tick WHERE ticker_id = s.id AND "time" >= s.lo AND "time" < %(hi)s
     ORDER BY "time" LIMIT %(limit)s) r
 ORDER BY r.ts, s.ord LIMIT %(limit)s"""
)


def playback_ticks_page(
    *,
    tickers: Sequence[PlaybackTicker],
    start_ms: int,
    end_ms: int,
    after: tuple[int, int] | None,
    limit: int,
) -> list[tuple[int, TickPayload]]:
    """Up to ``limit`` ticks of ``start <= time < end`` after the cursor, as ``(ticker index,
    tick)`` in time order; fewer than ``limit``: the range is done."""
    if not tickers:
        return []
    params = {
        "ids": [t.id for t in tickers],
        "lo": _lower_bounds(len(tickers), start_ms, after),
        "hi": datetime.fromtimestamp(end_ms / 1000, UTC),
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_TICKS, params)
        rows = cursor.fetchall()
    return [
        (i, TickPayload(tickers[i].symbol, p, v, b, a, ms, seq)) for i, ms, p, v, b, a, seq in rows
    ]


_BARS = (
    """SELECT s.ord - 1, r.ms, r.open, r.high, r.low, r.close, r.volume, r.trade_count, r.vwap
  FROM unnest(%(ids)s::bigint[], %(lo)s::timestamptz[]) WITH ORDINALITY AS s(id, lo, ord)
 CROSS JOIN LATERAL (
    SELECT "time" AS ts, """
    + EPOCH_MS.format(col='"time"')
    + """ AS ms, open, high, low, close, volume, trade_count, vwap
      FROM ticks_bar WHERE ticker_id = s.id AND timeframe = '1m'
       AND "time" >= s.lo AND "time" <= %(hi)s
     ORDER BY "time" LIMIT %(limit)s) r
 ORDER BY r.ts, s.ord LIMIT %(limit)s"""
)


def playback_bars_page(
    *,
    tickers: Sequence[PlaybackTicker],
    start_ms: int,
    end_ms: int,
    after: tuple[int, int] | None,
    limit: int,
) -> list[tuple[int, BarPayload]]:
    """Up to ``limit`` minute bars closing in ``(start, end]``, after the cursor (on the bars'
    labels), as ``(ticker index, bar)`` in time order."""
    if not tickers:
        return []
    first = start_ms - MINUTE_MS + 1  # the first label whose close is after start
    first += -first % MINUTE_MS
    params = {
        "ids": [t.id for t in tickers],
        "lo": _lower_bounds(len(tickers), first, after),
        "hi": datetime.fromtimestamp((end_ms - MINUTE_MS) / 1000, UTC),
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_BARS, params)
        rows = cursor.fetchall()
    return [
        (i, BarPayload(tickers[i].symbol, "1m", ms, o, h, lo, c, int(v), int(n), vw))
        for i, ms, o, h, lo, c, v, n, vw in rows
    ]
