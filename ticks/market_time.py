"""Market time: the one clock every process reads (daphne, the generator, workers, beat and
commands), so that tests and demos can move it.

Market time = wall time + ``MARKET_CLOCK_OFFSET_SECONDS`` (default 0). Ticks are stamped,
sessions opened and closed, bars bucketed and ages measured in market time; only what is about
wall time itself (timeouts, TTLs, the age of a lease, durations measured with a monotonic clock)
keeps reading the wall clock. An offset of -86400 replays yesterday's sessions live; one that
puts market time a minute before an exchange's open shows the open a minute later.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings

__all__ = ["market_now", "market_now_ms", "offset_seconds"]


def offset_seconds() -> float:
    return float(getattr(settings, "MARKET_CLOCK_OFFSET_SECONDS", 0.0))


def market_now() -> datetime:
    """The current market time (aware, UTC)."""
    return datetime.now(UTC) + timedelta(seconds=offset_seconds())


def market_now_ms() -> int:
    """The current market time in epoch milliseconds."""
    return int((time.time() + offset_seconds()) * 1000)
