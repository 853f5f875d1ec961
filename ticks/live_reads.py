"""Reads of the live market's Redis side (selectors over ``ticks.live_store``'s layout): the
latest quote of each ticker and the per-ticker replay streams. Nothing above ``ticks`` knows the
key names or entry ids.

The generator keeps, per ticker, a stream of its ticks for the last ``WS_REPLAY_SECONDS`` (entry
id ``<time_ms>-0``, field ``d`` = the tick's record, ``live_store.tick_record``) and a hash of
the latest tick record of every ticker. A resuming ``/ws`` client is served from these, not from
PostgreSQL, which lags by the flush interval. Ticks come back as ``(tick, record text)`` pairs:
the parsed record and its text, which the stream sends as it is.

Async reads use the running loop's client (``ticks.redis_store.loop_redis``); the sync ones the
process's.
"""

import orjson

from .live_store import KEYS
from .redis_store import get_redis, loop_redis

CHUNK = 1000  # stream entries read per round trip


class ReplayUnavailable(Exception):
    """The requested point is older than what the replay stream holds."""


def quote_location(symbol: str) -> tuple[str, str]:
    """``(hash key, field)`` of ``symbol``'s latest tick record, for a caller that fetches it
    inside a Redis round trip of its own (the rate limiter's script)."""
    return KEYS.quotes, symbol


def latest_quote_record(symbol: str) -> bytes | None:
    """``symbol``'s latest tick record (JSON bytes), or None; raises ``redis.RedisError``."""
    return get_redis().hget(KEYS.quotes, symbol)


async def alatest_quote_record(symbol: str, client=None) -> bytes | None:
    """``latest_quote_record`` on an event loop (through ``client``, a ``redis.asyncio`` client,
    or the loop's)."""
    return await (client or loop_redis()).hget(KEYS.quotes, symbol)


async def latest_records(symbols) -> dict[str, str]:
    """The latest tick record of each symbol that has one, as text."""
    symbols = list(symbols)
    if not symbols:
        return {}
    values = await loop_redis().hmget(KEYS.quotes, symbols)
    return {s: v.decode() for s, v in zip(symbols, values) if v}


async def quoted_symbols() -> frozenset[str]:
    """The symbols with a latest tick in Redis."""
    return frozenset(k.decode() for k in await loop_redis().hkeys(KEYS.quotes))


def _decode(entries) -> list[tuple[dict, str]]:
    return [(orjson.loads(fields[b"d"]), fields[b"d"].decode()) for _, fields in entries]


async def ticks_since(symbol: str, since_ms: int) -> list[tuple[dict, str]]:
    """Ticks after ``since_ms`` (exclusive), oldest first."""
    r, key = loop_redis(), KEYS.replay(symbol)
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
    r, key = loop_redis(), KEYS.replay(symbol)
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
    raw = await alatest_quote_record(symbol)
    return bool(raw) and orjson.loads(raw)["seq"] > seq


async def check_seq(symbol: str, seq: int) -> None:
    """``ReplayUnavailable`` unless the stream still holds the ticks after ``seq`` (a cheap
    check made before a subscribe changes anything)."""
    entries = await loop_redis().xrange(KEYS.replay(symbol), min="-", max="+", count=1)
    if entries:
        if orjson.loads(entries[0][1][b"d"])["seq"] > seq + 1:
            raise ReplayUnavailable(symbol)
    elif await _moved_past(symbol, seq):
        raise ReplayUnavailable(symbol)


async def alatest_quote_records(symbols, client=None) -> dict[str, bytes]:
    """``latest_quote_records`` on an event loop (through ``client`` or the loop's)."""
    symbols = list(symbols)
    if not symbols:
        return {}
    values = await (client or loop_redis()).hmget(KEYS.quotes, symbols)
    return {s: v for s, v in zip(symbols, values) if v}


def latest_quote_records(symbols) -> dict[str, bytes]:
    """The latest tick record (JSON bytes) of each of ``symbols`` that has one, in one round
    trip; raises ``redis.RedisError``."""
    symbols = list(symbols)
    if not symbols:
        return {}
    values = get_redis().hmget(KEYS.quotes, symbols)
    return {s: v for s, v in zip(symbols, values) if v}
