"""Live bar refresh: roll up the range of tick times flushed since the last refresh, then
announce the 1m bars it touched (the open bar's changes and its close; ``ticks.announce``)."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from . import announce, live_store
from .lease import lease
from .live_store import KEYS
from .market import from_ms
from .market_time import market_now_ms
from .redis_store import get_redis
from .rollup import bars_rollup, floor_to
from .selectors import bars_between

logger = logging.getLogger(__name__)

LEASE_TTL_MS = 3_000  # renewed while rolling up: a killed holder blocks the next for 3 s at most
# Streamed bar updates cover the open bar and the one just closed. After a long database outage
# the refreshed range can span hours: those bars are in the table and the REST API, but pushing
# every one of them to every live client would be a flood of stale updates.
PUBLISH_WINDOW = timedelta(minutes=2)


@dataclass
class RefreshReport:
    bars: dict | None = None
    skipped: str | None = None


def bars_refresh() -> RefreshReport:
    with lease("rollup", ttl_ms=LEASE_TTL_MS) as held:
        if not held:
            return RefreshReport(skipped="locked")
        dirty = live_store.take_dirty()
        if dirty is None:
            return RefreshReport(skipped="nothing new")
        first_ms, last_ms = dirty
        start, end = from_ms(first_ms), from_ms(last_ms + 1)
        try:
            counts = bars_rollup(start=start, end=end)
        except Exception:
            live_store.mark_dirty(first_ms, last_ms)  # retried by the next refresh
            raise
        # when, and the newest tick rolled up (both market time; the latter: the bar lag metric)
        get_redis().mset({KEYS.rolled_at: market_now_ms(), KEYS.rolled_through: last_ms})
        publish_from = floor_to(max(start, end - PUBLISH_WINDOW), timedelta(minutes=1))
        announce.announce_bars(bars_between(timeframe="1m", start=publish_from, end=end))
        return RefreshReport(bars=counts)
