"""How fresh the live feed is: one rule, used by the quote's ``meta``, ``/readyz``'s
``generation`` check, ``market_status`` and the dashboard.

A ticker is **stale** when its market is open and its newest tick is older than
``GENERATION_STALE_SECONDS`` plus its own tick interval (no tick for that long after one was
due). A closed market is never stale. Today every market trades 24/7 (``market_open``); trading
sessions are a later feature and will answer here. A ticker that has never ticked is not stale
(there is nothing frozen to serve); ``market_status`` reports it as "no tick yet".
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from django.conf import settings

from .events import halt_at
from .live_store import KEYS, LiveState
from .redis_store import get_redis
from .selectors import active_ticker_feeds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Feed:
    """What freshness needs to know of an active ticker."""

    id: int
    symbol: str
    tick_interval_ms: int


def market_open(symbol: str, at_ms: int) -> bool:
    """Whether ``symbol``'s market trades at ``at_ms``: always, until trading sessions exist."""
    return True


def stale_after_ms(tick_interval_ms: int) -> int:
    return int(settings.GENERATION_STALE_SECONDS * 1000) + int(tick_interval_ms)


def age_ms(last_tick_ms: int, now_ms: int) -> int:
    return max(0, now_ms - int(last_tick_ms))


def is_stale(*, symbol: str, last_tick_ms: int | None, tick_interval_ms: int, now_ms: int) -> bool:
    if last_tick_ms is None or not market_open(symbol, now_ms):
        return False
    if halt_at(symbol, now_ms) is not None:  # a halt event: no ticks are due
        return False
    return age_ms(last_tick_ms, now_ms) > stale_after_ms(tick_interval_ms)


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
