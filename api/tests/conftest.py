"""Fixtures of the API tests: a clean API state per test, and ways to store ticks and bars."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection

from api.directory import directory
from testsupport.asgi import asgi_request
from ticks import api_keys as keys
from ticks.live_store import KEYS
from ticks.models import Tick, Ticker
from ticks.redis_store import close_async_redis, get_redis
from ticks.rollup import bars_rollup
from ticks.storage import tick_storage

UTC = UTC
UNLIMITED = "1000000/minute"


def clear_market_keys() -> None:
    r = get_redis()
    for name in r.scan_iter(match=f"{settings.MARKET_REDIS_PREFIX}:*", count=1000):
        r.delete(name)


@pytest.fixture(autouse=True)
def api_state(settings):
    """Keys off, no rate limit, empty Redis prefix and caches, before and after each test."""
    settings.API_KEYS_REQUIRED = False
    settings.API_RATE_LIMIT_ANON = UNLIMITED
    settings.API_RATE_LIMIT_KEY = UNLIMITED
    settings.API_RATE_LIMIT_DASHBOARD = UNLIMITED
    clear_market_keys()
    directory.reset()
    keys.reset_cache()
    yield
    clear_market_keys()
    directory.reset()
    keys.reset_cache()


def store_ticks(symbol: str, rows: list[tuple]) -> Ticker:
    """Store ``(time, price, volume[, bid, ask])`` rows (seq counts from 0); bars rolled up."""
    ticker = Ticker.objects.get(symbol=symbol)
    times = [row[0] for row in rows]
    tick_storage().ensure_room(connection, start=min(times), end=max(times))
    ticks = []
    for seq, (time, price, volume, *spread) in enumerate(sorted(rows)):
        price = Decimal(str(price))
        bid, ask = (
            (Decimal(str(v)) for v in spread)
            if spread
            else (price - Decimal("0.05"), price + Decimal("0.05"))
        )
        ticks.append(
            Tick(ticker=ticker, time=time, seq=seq, price=price, bid=bid, ask=ask, volume=volume)
        )
    Tick.objects.bulk_create(ticks)
    bars_rollup(start=min(times), end=max(times) + timedelta(milliseconds=1), tickers=[ticker.pk])
    return ticker


def set_live_quote(
    symbol: str, *, price: float, bid: float, ask: float, volume: int, timestamp: int, seq: int
) -> None:
    """The generator's latest-quote cache entry, as ``ticks.live_store`` writes it."""
    payload = {
        "ticker": symbol,
        "price": price,
        "volume": volume,
        "bid": bid,
        "ask": ask,
        "timestamp": timestamp,
        "seq": seq,
    }
    get_redis().hset(KEYS.quotes, symbol, orjson.dumps(payload))


def on_the_loop(requests: list[tuple], app=None) -> list[tuple]:
    """``(method, path, headers)`` requests one after another through daphne's HTTP
    application (``app``, or one built with the settings of the moment), on one serving loop
    (its asyncio Redis client closed at the end)."""
    from config.asgi import http_application

    async def run():
        handler = app or http_application()
        try:
            return [await asgi_request(handler, *r) for r in requests]
        finally:
            await close_async_redis()

    return async_to_sync(run)()


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@pytest.fixture
def recent_ticks():
    """Ten minutes of SYNTH at 1 tick/s ending a minute ago (prices 100.00, 100.01, ...)."""
    end = minute_floor(datetime.now(UTC)) - timedelta(minutes=1)
    start = end - timedelta(minutes=10)
    rows = [(start + timedelta(seconds=i), 100 + i / 100, 10 + i) for i in range(600)]
    store_ticks("SYNTH", rows)
    return rows


# The backfilled day behind a real daphne of the vendor dialects' end-to-end tests (module scope).
from api.tests.backfilled_day import service  # noqa: E402, F401
