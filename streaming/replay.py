"""Async reads of the live market's Redis side: latest quotes and the per-ticker replay streams.

The generator (``ticks.live_store``) keeps, per ticker, a stream of its ticks for the last
``WS_REPLAY_SECONDS`` (entry id ``<time_ms>-0``, field ``d`` = the tick as JSON) and a hash of
the latest tick of every ticker. A resuming client is served from these, not from PostgreSQL,
which lags by the flush interval.
"""

import asyncio
import time
import weakref

import orjson
import redis.asyncio as aioredis
from django.conf import settings

from ticks.live_store import KEYS

CHUNK = 1000  # stream entries read per round trip

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = (
    weakref.WeakKeyDictionary())


def client() -> aioredis.Redis:
    """One asyncio Redis client per event loop (connections belong to a loop)."""
    loop = asyncio.get_running_loop()
    r = _clients.get(loop)
    if r is None:
        r = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2,
                                    socket_timeout=5)
        _clients[loop] = r
    return r


class ReplayUnavailable(Exception):
    """The requested point is older than what the replay stream holds."""


def now_ms() -> int:
    return int(time.time() * 1000)


def window_start_ms() -> int:
    return now_ms() - settings.WS_REPLAY_SECONDS * 1000


async def latest(symbols) -> dict[str, str]:
    """The latest tick of each symbol that has one, as its JSON text."""
    symbols = list(symbols)
    if not symbols:
        return {}
    values = await client().hmget(KEYS.quotes, symbols)
    return {s: v.decode() for s, v in zip(symbols, values) if v}


async def quoted_symbols() -> frozenset[str]:
    return frozenset(k.decode() for k in await client().hkeys(KEYS.quotes))


def _decode(entries) -> list[tuple[dict, str]]:
    return [(orjson.loads(fields[b"d"]), fields[b"d"].decode()) for _, fields in entries]


async def ticks_since(symbol: str, since_ms: int) -> list[tuple[dict, str]]:
    """Ticks after ``since_ms`` (exclusive), oldest first, as ``(tick, json)`` pairs."""
    r, key = client(), KEYS.replay(symbol)
    out: list[tuple[dict, str]] = []
    start = f"({since_ms}-0"
    while True:
        entries = await r.xrange(key, min=start, max="+", count=CHUNK)
        out += _decode(entries)
        if len(entries) < CHUNK:
            return out
        start = "(" + entries[-1][0].decode()


async def ticks_after_seq(symbol: str, seq: int) -> list[tuple[dict, str]]:
    """Ticks with ``seq`` above the given one, oldest first; read backwards from the newest, so
    a recent resume costs one round trip. ``ReplayUnavailable`` when the stream no longer
    reaches back to ``seq + 1``."""
    r, key = client(), KEYS.replay(symbol)
    newest_first: list[tuple[dict, str]] = []
    end = "+"
    while True:
        entries = await r.xrevrange(key, max=end, min="-", count=CHUNK)
        for tick, text in _decode(entries):
            if tick["seq"] <= seq:
                newest_first.reverse()
                return newest_first
            newest_first.append((tick, text))
        if len(entries) < CHUNK:
            break
        end = "(" + entries[-1][0].decode()
    if newest_first and newest_first[-1][0]["seq"] > seq + 1:
        raise ReplayUnavailable(symbol)
    if not newest_first and await _moved_past(symbol, seq):
        raise ReplayUnavailable(symbol)
    newest_first.reverse()
    return newest_first


async def _moved_past(symbol: str, seq: int) -> bool:
    """The ticker has ticks after ``seq`` (its latest quote is newer)."""
    raw = await client().hget(KEYS.quotes, symbol)
    return bool(raw) and orjson.loads(raw)["seq"] > seq


async def check_seq(symbol: str, seq: int) -> None:
    """``ReplayUnavailable`` unless the stream still holds the ticks after ``seq`` (a cheap
    check made before a subscribe changes anything)."""
    entries = await client().xrange(KEYS.replay(symbol), min="-", max="+", count=1)
    if entries:
        if orjson.loads(entries[0][1][b"d"])["seq"] > seq + 1:
            raise ReplayUnavailable(symbol)
    elif await _moved_past(symbol, seq):
        raise ReplayUnavailable(symbol)
