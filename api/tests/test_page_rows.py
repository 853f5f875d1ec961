"""Page rows serialized by PostgreSQL (``ticks.selectors.tick_range``/``bar_range``): each JSON
text must be exactly the pinned row shape (README, "REST API"), each CSV line the same values, for the awkward cases."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from api.renderers import json_rows
from ticks.models import Bar, Ticker
from ticks.selectors import bar_range, row_time_ms, tick_range

from .conftest import store_ticks

pytestmark = pytest.mark.django_db
UTC = UTC
T0 = datetime(2026, 3, 1, 9, 30, 0, 5000, tzinfo=UTC)  # 5 ms past the second


def ticks_of(fmt: str, **window):
    ticker = Ticker.objects.get(symbol="SYNTH")
    return tick_range(
        ticker_id=ticker.id,
        symbol="SYNTH",
        start=T0 - timedelta(hours=1),
        end=T0 + timedelta(hours=1),
        limit=10,
        newest=False,
        fmt=fmt,
        **window,
    )


def test_tick_rows_as_json_objects():
    store_ticks(
        "SYNTH",
        [
            (T0, "150.10", 7, "150.05", "150.15"),
            (T0 + timedelta(milliseconds=995), "0.01", 9_000_000_000, "0.01", "0.02"),
        ],
    )
    rows = ticks_of("json")
    assert [row_time_ms(text, "json") for text in rows] == [1772357400005, 1772357401000]
    assert [orjson.loads(text) for text in rows] == [
        {
            "time": "2026-03-01T09:30:00.005Z",
            "ticker": "SYNTH",
            "price": "150.10",
            "volume": 7,
            "bid": "150.05",
            "ask": "150.15",
            "seq": 0,
        },
        {
            "time": "2026-03-01T09:30:01.000Z",
            "ticker": "SYNTH",
            "price": "0.01",
            "volume": 9_000_000_000,
            "bid": "0.01",
            "ask": "0.02",
            "seq": 1,
        },
    ]
    # Keys in the pinned order, as the seed's examples show them.
    assert list(orjson.loads(rows[0])) == ["time", "ticker", "price", "volume", "bid", "ask", "seq"]
    assert orjson.loads(orjson.dumps({"data": json_rows(rows)}))["data"][1]["price"] == "0.01"


def test_tick_rows_as_csv_lines():
    store_ticks("SYNTH", [(T0, "150.10", 7, "150.05", "150.15")])
    rows = ticks_of("csv")
    assert rows == ["2026-03-01T09:30:00.005Z,SYNTH,150.10,7,150.05,150.15,0"]
    assert row_time_ms(rows[0], "csv") == 1772357400005


def test_bar_rows_round_the_vwap_and_name_the_timeframe():
    ticker = Ticker.objects.get(symbol="SYNTH")
    store_ticks("SYNTH", [(T0, "100.00", 1)])  # a partition for the day, and a 1m bar
    Bar.objects.filter(ticker=ticker).delete()
    Bar.objects.create(
        ticker=ticker,
        timeframe="5m",
        time=T0.replace(microsecond=0, minute=25),
        open=Decimal("100.00"),
        high=Decimal("101.50"),
        low=Decimal("99.90"),
        close=Decimal("100.20"),
        volume=1234,
        trade_count=12,
        vwap=Decimal("100.4567"),
    )
    args = {
        "ticker_id": ticker.id,
        "symbol": "SYNTH",
        "timeframe": "5m",
        "start": T0 - timedelta(hours=1),
        "end": T0,
        "limit": 5,
        "newest": True,
    }
    (text,) = bar_range(**args, fmt="json")
    assert row_time_ms(text, "json") == 1772357100000
    assert orjson.loads(text) == {
        "time": "2026-03-01T09:25:00.000Z",
        "ticker": "SYNTH",
        "timeframe": "5m",
        "open": "100.00",
        "high": "101.50",
        "low": "99.90",
        "close": "100.20",
        "volume": 1234,
        "trade_count": 12,
        "vwap": "100.46",
    }
    assert bar_range(**args, fmt="csv") == [
        "2026-03-01T09:25:00.000Z,SYNTH,5m,100.00,101.50,99.90,100.20,1234,12,100.46"
    ]


def test_an_unknown_row_format_is_refused():
    with pytest.raises(ValueError, match="fmt must be one of"):
        ticks_of("xml")
