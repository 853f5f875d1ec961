"""The Alpaca dialect's reads (ticks.alpaca_reads): rows in ticks.alpaca_shapes' shapes, keyset
pages over several tickers, the latest tick from Redis or the database."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from api.tests.conftest import api_state, set_live_quote, store_ticks  # noqa: F401
from ticks.alpaca_bars import parse_frame
from ticks.alpaca_reads import PageWindow, bars_page, latest_ticks, rfc3339_s, trades_page
from ticks.alpaca_shapes import bar_fields
from ticks.live_store import KEYS
from ticks.market import to_ms
from ticks.models import Bar, Ticker
from ticks.payloads import BarPayload
from ticks.redis_store import get_redis

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
EVER = dict(start=datetime(2000, 1, 1, tzinfo=UTC), end=datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture
def tickers():
    store_ticks("SYNTH", [(T0 + timedelta(seconds=i), 100 + i / 100, 10 + i) for i in range(300)])
    store_ticks("TECH", [(T0 + timedelta(seconds=i), 50 + i / 100, 5 + i) for i in range(120)])
    return list(Ticker.objects.filter(symbol__in=["SYNTH", "TECH"]).order_by("symbol"))


def test_bar_texts_from_postgresql_are_the_shapes_bar(tickers):
    page = bars_page(
        tickers=tickers, frame=parse_frame("1Min"), window=PageWindow(limit=100, **EVER)
    )
    for ticker in tickers:
        bars = Bar.objects.filter(ticker=ticker, timeframe="1m").order_by("time")
        expected = [
            bar_fields(
                BarPayload(
                    ticker.symbol,
                    "1m",
                    to_ms(b.time),
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume,
                    b.trade_count,
                    b.vwap,
                ),
                rfc3339_s(to_ms(b.time)),
            )
            for b in bars
        ]
        assert orjson.loads(page.rows[ticker.symbol]) == expected
    assert page.count == 7 and page.next is None


def test_keyset_pages_cover_every_row_once_in_symbol_then_time_order(tickers):
    seen, after = [], None
    while True:
        page = trades_page(tickers=tickers, window=PageWindow(limit=70, after=after, **EVER))
        assert page.count <= 70
        seen += [(s, t["i"]) for s, rows in page.rows.items() for t in orjson.loads(rows)]
        after = page.next
        if after is None:
            break
    assert seen == [("SYNTH", i) for i in range(300)] + [("TECH", i) for i in range(120)]


def test_descending_pages(tickers):
    page = trades_page(tickers=tickers, window=PageWindow(limit=301, descending=True, **EVER))
    assert [t["i"] for t in orjson.loads(page.rows["SYNTH"])] == list(range(299, -1, -1))
    assert [t["i"] for t in orjson.loads(page.rows["TECH"])] == [119]
    rest = trades_page(
        tickers=tickers, window=PageWindow(limit=500, descending=True, after=page.next, **EVER)
    )
    assert [t["i"] for t in orjson.loads(rest.rows["TECH"])] == list(range(118, -1, -1))


def test_the_latest_tick_from_redis_or_else_the_database(tickers):
    synth, tech = tickers
    set_live_quote("SYNTH", price=1.5, bid=1.49, ask=1.51, volume=3, timestamp=1_000, seq=9_000)
    get_redis().hset(KEYS.quotes, "TECH", b"not json")
    latest = latest_ticks(tickers)
    assert latest["SYNTH"] == ("SYNTH", 150, 3, 149, 151, 1_000, 9_000)
    assert latest["TECH"].seq == 119 and latest["TECH"].price_cents == 5119
