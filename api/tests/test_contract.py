"""The first version's documented REST examples, replayed: same paths, same envelope, same field names and
types, so client code written against the seed works unchanged."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from rest_framework import status

from ticks.market import from_ms

from .conftest import set_live_quote

pytestmark = pytest.mark.django_db

ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
PRICE = re.compile(r"-?\d+\.\d{2}")


def assert_iso(value):
    assert isinstance(value, str) and ISO_MS.fullmatch(value), value


def assert_price(value):
    assert isinstance(value, str) and PRICE.fullmatch(value), value


def assert_int(value):
    assert isinstance(value, int) and not isinstance(value, bool), value


def assert_quote_shape(row, ticker="SYNTH", *, quote=True):
    fields = ["time", "ticker", "price", "volume", "bid", "ask", "seq"]
    assert list(row) == (fields + ["status"] if quote else fields)  # a quote says its status
    assert_iso(row["time"])
    assert row["ticker"] == ticker
    for field in ("price", "bid", "ask"):
        assert_price(row[field])
    assert_int(row["volume"])
    assert_int(row["seq"])


def envelope(response) -> dict:
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"success", "data", "meta"} and body["success"] is True
    assert isinstance(body["meta"], dict)
    return body


def test_get_all_tickers(client):
    """GET /tickers -> {"success": true, "data": [{"ticker", "name", "sector", "initial_price"}]}"""
    response = client.get("/api/v1/tickers")
    assert response.status_code == status.HTTP_200_OK
    body = envelope(response)
    synth = next(t for t in body["data"] if t["ticker"] == "SYNTH")
    # The first version's four fields first, exactly as in its example; then the pinned additions.
    assert synth == {
        "ticker": "SYNTH",
        "name": "Synthetic Corp",
        "sector": "Technology",
        "initial_price": "150.00",
        "drift": 0.05,
        "volatility": 0.2,
        "min_price": "10.00",
        "max_price": "1000.00",
        "active": True,
        "tick_rate": 10.0,
    }
    assert [t["ticker"] for t in body["data"]] == ["ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH"]
    assert body["meta"] == {"count": 5}


def test_get_latest_quote_from_the_live_feed(client):
    """GET /quote/SYNTH -> {"time": "2024-01-15T10:30:45.123Z", "ticker": "SYNTH",
    "price": "152.34", "volume": 12500, "bid": "152.28", "ask": "152.40"}"""
    set_live_quote(
        "SYNTH", price=152.34, bid=152.28, ask=152.4, volume=12500, timestamp=1705314645123, seq=77
    )
    with mock.patch("api.views.now", return_value=from_ms(1705314645123 + 2_500)):
        response = client.get("/api/v1/quote/SYNTH")
    assert response.status_code == status.HTTP_200_OK
    body = envelope(response)
    assert body["data"] == {
        "time": "2024-01-15T10:30:45.123Z",
        "ticker": "SYNTH",
        "price": "152.34",
        "volume": 12500,
        "bid": "152.28",
        "ask": "152.40",
        "seq": 77,
        "status": "trading",
    }
    assert_quote_shape(body["data"])
    assert body["meta"] == {"ticker": "SYNTH", "source": "live", "age_ms": 2_500, "stale": False}


def test_get_latest_quote_from_the_database(client, recent_ticks):
    response = client.get("/api/v1/quote/SYNTH")
    body = envelope(response)
    assert_quote_shape(body["data"])
    last_time, last_price, last_volume = recent_ticks[-1]
    assert body["data"]["price"] == f"{last_price:.2f}"
    assert body["data"]["volume"] == last_volume
    assert body["data"]["seq"] == len(recent_ticks) - 1
    assert body["meta"] == {
        "ticker": "SYNTH",
        "source": "database",
        "age_ms": body["meta"]["age_ms"],
        "stale": True,
    }
    assert 60_000 <= body["meta"]["age_ms"] < 180_000  # the newest tick is a minute old


@pytest.mark.parametrize(
    "age_ms, stale", [(0, False), (10_100, False), (10_101, True), (3_600_000, True)]
)
def test_a_quote_reports_its_age_and_whether_the_feed_is_stale(client, age_ms, stale):
    """Stale: no new tick for GENERATION_STALE_SECONDS (10) after one was due (SYNTH ticks every
    100 ms). The data keeps its pinned shape; only meta says it."""
    set_live_quote(
        "SYNTH", price=152.34, bid=152.28, ask=152.4, volume=12500, timestamp=1705314645123, seq=77
    )
    with mock.patch("api.views.now", return_value=from_ms(1705314645123 + age_ms)):
        body = envelope(client.get("/api/v1/quote/SYNTH"))
    assert body == {
        "success": True,
        "data": {
            "time": "2024-01-15T10:30:45.123Z",
            "ticker": "SYNTH",
            "price": "152.34",
            "volume": 12500,
            "bid": "152.28",
            "ask": "152.40",
            "seq": 77,
            "status": "trading",
        },
        "meta": {"ticker": "SYNTH", "source": "live", "age_ms": age_ms, "stale": stale},
    }


def test_a_closed_market_never_reports_a_stale_quote(client):
    set_live_quote(
        "SYNTH", price=152.34, bid=152.28, ask=152.4, volume=12500, timestamp=1705314645123, seq=77
    )
    with (
        mock.patch("api.views.now", return_value=from_ms(1705314645123 + 3_600_000)),
        mock.patch("ticks.freshness.market_open", return_value=False),
    ):
        body = envelope(client.get("/api/v1/quote/SYNTH"))
    assert body["meta"] == {
        "ticker": "SYNTH",
        "source": "live",
        "age_ms": 3_600_000,
        "stale": False,
    }


def test_get_historical_ticks(client, recent_ticks):
    """GET /history/:ticker?start=<ISO_DATE>&end=<ISO_DATE>&limit=<NUMBER>"""
    first = recent_ticks[0][0]
    start = first.isoformat().replace("+00:00", "Z")
    end = (first + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    response = client.get(f"/api/v1/history/SYNTH?start={start}&end={end}&limit=20")
    assert response.status_code == status.HTTP_200_OK
    body = envelope(response)
    assert len(body["data"]) == 20
    for row in body["data"]:
        assert_quote_shape(row, quote=False)
    times = [row["time"] for row in body["data"]]
    assert times == sorted(times)
    assert body["data"][0]["price"] == "100.00"


def test_get_ohlcv_bars(client, recent_ticks):
    """GET /bars/:ticker?timeframe=<1m|5m|1h|1d>&start=<ISO_DATE>&end=<ISO_DATE>&limit=<NUMBER>"""
    first = recent_ticks[0][0]
    start = first.isoformat().replace("+00:00", "Z")
    end = (first + timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    response = client.get(f"/api/v1/bars/SYNTH?timeframe=1m&start={start}&end={end}&limit=100")
    assert response.status_code == status.HTTP_200_OK
    body = envelope(response)
    assert len(body["data"]) == 10
    for bar in body["data"]:
        assert list(bar) == [
            "time",
            "ticker",
            "timeframe",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "trade_count",
            "vwap",
        ]
        assert_iso(bar["time"])
        assert bar["ticker"] == "SYNTH" and bar["timeframe"] == "1m"
        for field in ("open", "high", "low", "close", "vwap"):
            assert_price(bar[field])
        assert_int(bar["volume"])
        assert bar["trade_count"] == 60


@pytest.mark.parametrize("timeframe", ["1m", "5m", "1h", "1d"])
def test_every_bar_timeframe_of_the_seed(client, recent_ticks, timeframe):
    day = recent_ticks[0][0].replace(hour=0, minute=0, second=0)
    response = client.get(f"/api/v1/bars/SYNTH?timeframe={timeframe}&start={day.isoformat()}")
    body = envelope(response)
    assert body["data"] and {bar["timeframe"] for bar in body["data"]} == {timeframe}
    assert sum(bar["trade_count"] for bar in body["data"]) == len(recent_ticks)


def test_get_statistics(client, recent_ticks):
    """GET /stats/:ticker?period=<1h|1d|7d|30d>; example GET /stats/SYNTH?period=1d"""
    response = client.get("/api/v1/stats/SYNTH?period=1d")
    assert response.status_code == status.HTTP_200_OK
    data = envelope(response)["data"]
    assert list(data) == [
        "ticker",
        "period",
        "tick_count",
        "open",
        "high",
        "low",
        "close",
        "avg_price",
        "total_volume",
        "volatility",
        "change",
        "change_pct",
    ]
    assert data["ticker"] == "SYNTH" and data["period"] == "1d"
    assert data["tick_count"] == len(recent_ticks)
    for field in ("open", "high", "low", "close", "avg_price", "change"):
        assert_price(data[field])
    assert_int(data["total_volume"])
    assert isinstance(data["volatility"], float) and isinstance(data["change_pct"], float)


@pytest.mark.parametrize("period", ["1h", "1d", "7d", "30d"])
def test_every_stats_period_of_the_seed(client, recent_ticks, period):
    data = envelope(client.get(f"/api/v1/stats/SYNTH?period={period}"))["data"]
    assert data["period"] == period and data["tick_count"] == len(recent_ticks)
    assert (data["open"], data["close"]) == ("100.00", "105.99")


def test_seed_defaults_without_parameters(client, recent_ticks):
    """history: the last hour, 1000 rows; bars: 1m over the last day, 500 rows; stats: 1d."""
    history = envelope(client.get("/api/v1/history/SYNTH"))
    assert history["meta"]["limit"] == 1000 and history["meta"]["count"] == 600
    bars = envelope(client.get("/api/v1/bars/SYNTH"))
    assert bars["meta"]["limit"] == 500 and bars["meta"]["timeframe"] == "1m"
    assert bars["meta"]["count"] == 10
    assert envelope(client.get("/api/v1/stats/SYNTH"))["data"]["period"] == "1d"
