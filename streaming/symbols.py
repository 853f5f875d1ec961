"""The active tickers' symbols, which subscribe requests are checked against.

Cached per process for ``TTL_S`` seconds and read from the database off the event loop, one read
at a time however many clients subscribe at once; once expired, the cached set keeps answering
while it is re-read in the background, so a subscribe never waits on the database for a known
symbol. A symbol missing from the cache triggers an early re-read (at most every
``MISS_REFRESH_S``), so a ticker added in the admin can be subscribed to within a second. Every
read waits ``READ_DEADLINE_S`` at most (``ticks.deadline``: a hung database answers nothing).
When the database is down or hung the last known set is kept; a process that never read it falls
back to the tickers with a quote in Redis, so the stream keeps serving new clients through a
database outage.
"""

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.db import DatabaseError

from ticks.deadline import read_within
from ticks.selectors import active_ticker_symbols

from . import replay

logger = logging.getLogger(__name__)

TTL_S = 10.0
MISS_REFRESH_S = 1.0
READ_DEADLINE_S = 2.0


class _Cache:
    symbols: frozenset[str] | None = None
    loaded_at: float = 0.0
    inflight: dict = {}  # event loop -> task reading the symbols


_cache = _Cache()


def reset() -> None:
    """Forget the cached symbols (tests, and after a known change)."""
    _cache.symbols = None
    _cache.loaded_at = 0.0
    _cache.inflight = {}


def prime(known) -> None:
    """Set the cached symbols (tests; a process could warm its cache the same way)."""
    _cache.symbols = frozenset(known)
    _cache.loaded_at = time.monotonic()


async def _read_database() -> frozenset[str]:
    # Not the thread-sensitive executor: a read stuck on a hung database must not hold it.
    return await sync_to_async(read_within, thread_sensitive=False)(
        active_ticker_symbols,
        key="ws-symbols",
        timeout=READ_DEADLINE_S,
        what="WebSocket ticker symbols",
    )


async def _load() -> frozenset[str]:
    try:
        symbols = await _read_database()
    except DatabaseError:
        if _cache.symbols is not None:
            logger.warning("database unreachable: keeping the cached ticker symbols")
            symbols = _cache.symbols
        else:
            logger.warning("database unreachable: using the tickers quoted in Redis")
            symbols = await replay.quoted_symbols()
    _cache.symbols = symbols
    _cache.loaded_at = time.monotonic()
    return symbols


async def _refresh() -> frozenset[str]:
    loop = asyncio.get_running_loop()
    task = _cache.inflight.get(loop)
    if task is None:
        task = loop.create_task(_load())
        _cache.inflight[loop] = task
        task.add_done_callback(lambda _: _cache.inflight.pop(loop, None))
    return await asyncio.shield(task)


async def active_symbols() -> frozenset[str]:
    if _cache.symbols is None:
        return await _refresh()
    if time.monotonic() - _cache.loaded_at > TTL_S:
        asyncio.ensure_future(_refresh())  # re-read in the background; answer from the cache
    return _cache.symbols


async def check(symbols) -> tuple[frozenset[str], set[str]]:
    """``(active symbols, the ones of symbols not among them)``, re-reading once on a miss."""
    active = await active_symbols()
    unknown = set(symbols) - active
    if unknown and time.monotonic() - _cache.loaded_at > MISS_REFRESH_S:
        active = await _refresh()
        unknown = set(symbols) - active
    return active, unknown
