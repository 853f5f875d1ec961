"""What a ``/ws`` session reads to resume a client: the latest quotes and the ticks it missed.

The reads themselves are the domain's (``ticks.live_reads``, which alone knows the Redis key
layout); this module is the session's view of them, plus the replay window it may ask for
(``WS_REPLAY_SECONDS`` back from now).
"""

from django.conf import settings

from ticks import live_reads
from ticks.live_reads import ReplayUnavailable
from ticks.market_time import market_now_ms

__all__ = [
    "ReplayUnavailable",
    "check_seq",
    "latest",
    "now_ms",
    "quoted_symbols",
    "ticks_after_seq",
    "ticks_since",
    "window_start_ms",
]


def now_ms() -> int:
    return market_now_ms()


def window_start_ms() -> int:
    return now_ms() - settings.WS_REPLAY_SECONDS * 1000


async def latest(symbols) -> dict[str, str]:
    """The latest tick of each symbol that has one, as its JSON text."""
    return await live_reads.latest_records(symbols)


async def quoted_symbols() -> frozenset[str]:
    return await live_reads.quoted_symbols()


async def ticks_since(symbol: str, since_ms: int) -> list[tuple[dict, str]]:
    """Ticks after ``since_ms`` (exclusive), oldest first, as ``(tick, json)`` pairs."""
    return await live_reads.ticks_since(symbol, since_ms)


async def ticks_after_seq(symbol: str, seq: int) -> list[tuple[dict, str]]:
    """Ticks with ``seq`` above the given one, oldest first (``ReplayUnavailable`` when the
    stream no longer reaches back to ``seq + 1``)."""
    return await live_reads.ticks_after_seq(symbol, seq)


async def check_seq(symbol: str, seq: int) -> None:
    """``ReplayUnavailable`` unless the stream still holds the ticks after ``seq``."""
    await live_reads.check_seq(symbol, seq)
