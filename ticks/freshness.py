"""How fresh the live feed is: one rule, used by the quote's ``meta``, ``/readyz``'s
``generation`` check, ``market_status`` and the dashboard.

A ticker is **stale** when its market is open and no new tick came for
``GENERATION_STALE_SECONDS`` plus its own tick interval after one was due: its newest tick is
that old, and so is the current open period (``ticks.market_clock.open_since_ms``: a 24/7
market is always open; a calendar ticker's from its session's open, pre-market included when
it trades it). A closed market is never stale: a calendar ticker's newest tick is then from its
last close, and nothing is due until it opens. Ages are measured in market time
(``ticks.market_time``). A ticker that has never ticked is not stale (there is nothing frozen
to serve); ``market_status`` reports it as "no tick yet" while its market is open.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from django.conf import settings

from .calendars import ALWAYS_OPEN
from .events import halt_at
from .live_store import KEYS, LiveState
from .market_clock import open_since_ms
from .redis_store import get_redis
from .selectors import active_ticker_feeds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Feed:
    """What freshness needs to know of an active ticker."""

    id: int
    symbol: str
    tick_interval_ms: int
    calendar: str = ALWAYS_OPEN
    extended_hours: bool = False


def market_open(calendar: str, extended_hours: bool, at_ms: int) -> bool:
    """Whether a ticker on ``calendar`` trades at market time ``at_ms``."""
    return open_since_ms(calendar, extended_hours, at_ms) is not None


def stale_after_ms(tick_interval_ms: int) -> int:
    return int(settings.GENERATION_STALE_SECONDS * 1000) + int(tick_interval_ms)


def age_ms(last_tick_ms: int, now_ms: int) -> int:
    return max(0, now_ms - int(last_tick_ms))


def is_stale(
    *,
    symbol: str,
    last_tick_ms: int | None,
    tick_interval_ms: int,
    now_ms: int,
    calendar: str = ALWAYS_OPEN,
    extended_hours: bool = False,
) -> bool:
    if last_tick_ms is None or not market_open(calendar, extended_hours, now_ms):
        return False
    if halt_at(symbol, now_ms) is not None:  # a halt event: no ticks are due
        return False
    due_since = max(int(last_tick_ms), open_since_ms(calendar, extended_hours, now_ms) or 0)
    return age_ms(due_since, now_ms) > stale_after_ms(tick_interval_ms)


@dataclass(frozen=True)
class FeedAge:
    symbol: str
    last_tick_ms: int | None
    age_ms: int | None
    stale: bool


def feed_ages(feeds: Iterable[Feed], states: dict, *, now_ms: int) -> list[FeedAge]:
    """Per active ticker, from the generator's states (``HGETALL`` of ``KEYS.state``)."""
    out = []
    for feed in feeds:
        raw = states.get(str(feed.id).encode())
        last = LiveState.loads(raw).time_ms if raw else None
        out.append(
            FeedAge(
                feed.symbol,
                last,
                None if last is None else age_ms(last, now_ms),
                is_stale(
                    symbol=feed.symbol,
                    last_tick_ms=last,
                    tick_interval_ms=feed.tick_interval_ms,
                    now_ms=now_ms,
                    calendar=feed.calendar,
                    extended_hours=feed.extended_hours,
                ),
            )
        )
    return out


# The active tickers last read from the database, so the check still answers while it is down.
_known_feeds: list[Feed] = []


def active_feeds() -> list[Feed]:
    """The active tickers (a database read; remembered for ``generation_check``)."""
    global _known_feeds
    _known_feeds = [Feed(*row) for row in active_ticker_feeds()]
    return _known_feeds


def generation_check(
    *, feeds: list[Feed] | None, now_ms: int, client: redis.Redis | None = None
) -> dict:
    """``{"ok", "stale_after_s", "stale": [symbols]}``; ``feeds`` None (the database did not
    answer): the active tickers last read, else every ticker the generator marks active, as if
    its interval were 0. Raises ``redis.RedisError`` when Redis cannot be read."""
    states = (client or get_redis()).hgetall(KEYS.state)
    if feeds is None:
        feeds = _known_feeds or [
            Feed(int(tid), f"#{int(tid)}", 0)
            for tid, raw in states.items()
            if LiveState.loads(raw).active
        ]
    stale = sorted(f.symbol for f in feed_ages(feeds, states, now_ms=now_ms) if f.stale)
    return {"ok": not stale, "stale_after_s": settings.GENERATION_STALE_SECONDS, "stale": stale}
