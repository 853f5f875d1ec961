"""Fixtures of the streaming tests: an in-memory channel layer, the market's Redis keys under
the test prefix, and helpers to store and publish ticks and to drive ``/ws``."""

import functools
import json
from contextlib import asynccontextmanager

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings

from streaming import symbols
from streaming.publish import apublish, bar_messages, tick_data, tick_messages
from ticks.live_store import KEYS
from ticks.redis_store import get_redis

SYMBOLS = ("ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH")
T0 = 1_800_000_000_000  # a grid-aligned epoch ms for ticks that are only published


def asynctest(fn):
    """Run an ``async def`` test (with its fixtures) on a fresh event loop."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return async_to_sync(fn)(*args, **kwargs)

    return wrapper


def _clear_market_keys() -> None:
    r = get_redis()
    for name in r.scan_iter(match=f"{settings.MARKET_REDIS_PREFIX}:*", count=1000):
        r.delete(name)


@pytest.fixture
def market(settings):
    """In-memory channel layer, empty market keys, the symbol cache holding the five seeded
    tickers (so that only tests about it read the database from the event loop); a ``Market``
    helper."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    _clear_market_keys()
    symbols.reset()
    symbols.prime(SYMBOLS)
    yield Market()
    _clear_market_keys()
    symbols.reset()


def tick(symbol: str, seq: int, time_ms: int | None = None, *, price_cents: int = 10_000) -> dict:
    return tick_data(
        ticker=symbol,
        price_cents=price_cents + seq,
        volume=100 + seq,
        bid_cents=price_cents + seq - 5,
        ask_cents=price_cents + seq + 5,
        time_ms=T0 + 100 * seq if time_ms is None else time_ms,
        seq=seq,
    )


def bar(symbol: str, time_ms: int, close: float, volume: int = 10) -> dict:
    return {
        "ticker": symbol,
        "timeframe": "1m",
        "time": time_ms,
        "open": 100.0,
        "high": max(100.0, close),
        "low": min(100.0, close),
        "close": close,
        "volume": volume,
        "trade_count": 3,
        "vwap": 100.5,
    }


class Market:
    """Writes ticks the way the generator commits them, and publishes them the way it does."""

    def store(self, *ticks: dict) -> None:
        r = get_redis()
        pipe = r.pipeline()
        for t in ticks:
            text = json.dumps(t, separators=(",", ":"))
            pipe.xadd(KEYS.replay(t["ticker"]), {"d": text}, id=f"{t['timestamp']}-0")
            pipe.hset(KEYS.quotes, t["ticker"], text)
        pipe.execute()

    async def publish(self, *ticks: dict) -> None:
        by_symbol: dict[str, list[dict]] = {}
        for t in ticks:
            by_symbol.setdefault(t["ticker"], []).append(t)
        await apublish(tick_messages(by_symbol))

    async def commit(self, *ticks: dict) -> None:
        """Store, then publish: what one generation cycle does."""
        self.store(*ticks)
        await self.publish(*ticks)

    async def publish_bars(self, *bars: dict) -> None:
        await apublish(bar_messages(bars))


@asynccontextmanager
async def ws(path: str = "/ws", headers=None, *, welcome: bool = True):
    """A connected ``/ws`` client on ``config.asgi.application``; always disconnected."""
    from config.asgi import application

    client = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await client.connect()
    assert connected
    try:
        if welcome:
            hello = await client.receive_json_from()
            assert hello["type"] == "connected"
        yield client
    finally:
        await client.disconnect()


async def subscribe(client, **message) -> dict:
    await client.send_json_to({"type": "subscribe", **message})
    return await client.receive_json_from()


async def receive_all(client, *, timeout: float = 0.2) -> list[dict]:
    """Every message until none arrives for ``timeout`` seconds. (Never wait for one with a
    timeout that can expire: the communicator cancels the application when it does.)"""
    out = []
    while not await client.receive_nothing(timeout=timeout):
        out.append(await client.receive_json_from())
    return out
