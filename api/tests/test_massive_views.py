"""The Massive dialect (api.massive): shapes, paging, timespans, parameters, errors and
credentials, through Django's test client against the real PostgreSQL and Redis; the answers
parse as the pinned ``massive`` client's models."""

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from massive.rest.models import (
    Agg,
    GroupedDailyAgg,
    LastQuote,
    LastTrade,
    MarketStatus,
    PreviousCloseAgg,
    Quote,
    Ticker,
    TickerDetails,
    TickerSnapshot,
    Trade,
)
from rest_framework import status

from api.tests.conftest import set_live_quote, store_ticks
from api.tests.test_alpaca_views import two_tickers, v1_bars  # noqa: F401
from ticks.api_keys import api_key_create
from ticks.engine.sizes import quote_sizes
from ticks.market import to_ms
from ticks.models import Ticker as TickerRow

pytestmark = pytest.mark.django_db
EVER = "2000-01-01/2100-01-01"
NS = 1_000_000


def get(client, url, **headers):
    response = client.get(url, headers=headers)
    return response.status_code, response.json()


def follow(client, url: str) -> tuple[list, int]:
    """Every page of ``url``, following ``next_url`` by path as the ``massive`` client does."""
    rows, pages = [], 0
    while True:
        code, body = get(client, url)
        assert code == status.HTTP_200_OK, body
        assert body["status"] == "OK" and body["request_id"]
        pages += 1
        rows += body.get("results", [])
        if "next_url" not in body:
            return rows, pages
        assert body["next_url"].startswith("http://testserver/")
        parts = urlsplit(body["next_url"])
        url = parts.path + "?" + parts.query


def massive_agg(row: dict) -> dict:
    """An /api/v1 bar as the Massive aggregate it must equal."""
    return {
        "v": row["volume"],
        "vw": float(row["vwap"]),
        "o": float(row["open"]),
        "c": float(row["close"]),
        "h": float(row["high"]),
        "l": float(row["low"]),
        "t": to_ms(datetime.fromisoformat(row["time"])),
        "n": row["trade_count"],
    }


def cents(agg: dict) -> dict:
    return {**agg, "vw": round(agg["vw"] + 1e-9, 2)}


# --- aggregates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("multiplier, timespan, tf", [(1, "minute", "1m"), (5, "minute", "5m")])
def test_stored_frames_equal_the_v1_bars(client, recent_ticks, multiplier, timespan, tf):
    rows, pages = follow(client, f"/v2/aggs/ticker/SYNTH/range/{multiplier}/{timespan}/{EVER}")
    assert [cents(r) for r in rows] == [massive_agg(r) for r in v1_bars(client, "SYNTH", tf)]
    assert pages == 1
    assert [Agg.from_dict(r).timestamp for r in rows] == [r["t"] for r in rows]


def test_the_answer_has_massives_fields(client, recent_ticks):
    code, body = get(client, f"/v2/aggs/ticker/synth/range/1/minute/{EVER}?adjusted=false")
    assert code == 200
    assert set(body) == {
        "ticker",
        "queryCount",
        "resultsCount",
        "adjusted",
        "results",
        "status",
        "request_id",
    }
    assert body["ticker"] == "SYNTH" and body["adjusted"] is False
    assert body["resultsCount"] == len(body["results"]) == body["queryCount"] == 10
    response = client.get(f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}")
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


def test_limit_counts_base_aggregates_and_next_url_pages(client, recent_ticks):
    whole, _ = follow(client, f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}")
    rows, pages = follow(client, f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}?limit=3")
    assert rows == whole and pages == 4
    # 2-minute bars, limit 4 minutes: two bars a page
    code, body = get(client, f"/v2/aggs/ticker/SYNTH/range/2/minute/{EVER}?limit=4")
    assert body["resultsCount"] == 2 and 3 <= body["queryCount"] <= 4 and "next_url" in body
    desc, _ = follow(client, f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}?limit=4&sort=desc")
    assert desc == whole[::-1]


def test_aggregated_minutes_and_seconds(client, recent_ticks):
    minutes, _ = follow(client, f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}")
    threes, _ = follow(client, f"/v2/aggs/ticker/SYNTH/range/3/minute/{EVER}?limit=7")
    assert [t["t"] for t in threes] == sorted({m["t"] // 180_000 * 180_000 for m in minutes})
    assert sum(t["v"] for t in threes) == sum(m["v"] for m in minutes)
    seconds, pages = follow(client, f"/v2/aggs/ticker/SYNTH/range/1/second/{EVER}?limit=250")
    assert pages == 3 and len(seconds) == 600
    start, price, volume = recent_ticks[0]
    assert seconds[0] == {
        "v": volume,
        "vw": price,
        "o": price,
        "c": price,
        "h": price,
        "l": price,
        "t": to_ms(start),
        "n": 1,
    }
    tens, _ = follow(client, f"/v2/aggs/ticker/SYNTH/range/10/second/{EVER}")
    assert len(tens) == 60 and sum(t["n"] for t in tens) == 600
    # the minute made of seconds is the stored minute
    first_minute = [s for s in seconds if s["t"] < minutes[0]["t"] + 60_000]
    assert sum(s["v"] for s in first_minute) == minutes[0]["v"]


@pytest.mark.parametrize("timespan", ["hour", "day", "week", "month", "quarter", "year"])
def test_wider_timespans_hold_every_minute(client, recent_ticks, timespan):
    minutes, _ = follow(client, f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}")
    rows, _ = follow(client, f"/v2/aggs/ticker/SYNTH/range/1/{timespan}/{EVER}")
    assert sum(r["v"] for r in rows) == sum(m["v"] for m in minutes)
    assert rows[0]["o"] == minutes[0]["o"] and rows[-1]["c"] == minutes[-1]["c"]


def test_from_and_to_as_epoch_ms_are_inclusive_bar_starts(client, recent_ticks):
    minutes, _ = follow(client, f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}")
    lo, hi = minutes[2]["t"], minutes[5]["t"]
    rows, _ = follow(client, f"/v2/aggs/ticker/SYNTH/range/1/minute/{lo}/{hi}")
    assert rows == minutes[2:6]
    # a window starting inside a 5-minute bucket starts at the next whole one
    rows, _ = follow(client, f"/v2/aggs/ticker/SYNTH/range/3/minute/{lo + 1}/{hi + 59_999}")
    assert all(r["t"] >= lo + 1 and r["t"] % 180_000 == 0 for r in rows)


# --- trades and quotes ------------------------------------------------------------------------------


def test_trades_are_the_ticks_newest_first_by_default(client, recent_ticks):
    code, body = get(client, "/v3/trades/SYNTH?limit=5")
    assert code == 200 and set(body) == {"results", "status", "request_id", "next_url"}
    last_time, last_price, last_volume = recent_ticks[-1]
    assert body["results"][0] == {
        "conditions": [0],
        "exchange": 99,
        "id": "599",
        "participant_timestamp": to_ms(last_time) * NS,
        "price": last_price,
        "sequence_number": 599,
        "sip_timestamp": to_ms(last_time) * NS,
        "size": last_volume,
        "tape": 3,
    }
    assert [Trade.from_dict(t).sequence_number for t in body["results"]] == [
        599,
        598,
        597,
        596,
        595,
    ]


def test_trade_pages_cover_every_tick_once(client, recent_ticks):
    rows, pages = follow(client, "/v3/trades/SYNTH?order=asc&limit=250")
    assert [r["sequence_number"] for r in rows] == list(range(600)) and pages == 3
    rows, _ = follow(client, "/v3/trades/SYNTH?limit=250")
    assert [r["sequence_number"] for r in rows] == list(range(599, -1, -1))


def test_timestamp_filters(client, recent_ticks):
    times = [to_ms(t) * NS for t, _, _ in recent_ticks]
    seqs = lambda q: [r["sequence_number"] for r in follow(client, f"/v3/trades/SYNTH?{q}")[0]]  # noqa: E731
    assert seqs(f"timestamp={times[7]}") == [7]
    assert seqs(f"timestamp={times[7] + 1}") == []
    assert seqs(f"timestamp.gte={times[3]}&timestamp.lt={times[6]}&order=asc") == [3, 4, 5]
    assert seqs(f"timestamp.gt={times[3]}&timestamp.lte={times[6]}&order=asc") == [4, 5, 6]
    assert seqs(f"timestamp.gt={times[3] - 1}&timestamp.lt={times[4] + 1}&order=asc") == [3, 4]
    day = recent_ticks[0][0].strftime("%Y-%m-%d")
    if recent_ticks[-1][0].strftime("%Y-%m-%d") == day:
        assert len(seqs(f"timestamp={day}")) == 600
    assert seqs("timestamp.gte=2000-01-01&timestamp.lt=2000-01-02") == []


def test_quotes_carry_the_sizes_of_the_seed(client, recent_ticks):
    code, body = get(client, "/v3/quotes/SYNTH?order=asc&limit=3")
    seed = TickerRow.objects.get(symbol="SYNTH").seed
    bids, asks = quote_sizes(seed, [0, 1, 2])
    first = body["results"][0]
    assert first == {
        "ask_exchange": 99,
        "ask_price": round(recent_ticks[0][1] + 0.05, 2),
        "ask_size": int(asks[0]),
        "bid_exchange": 99,
        "bid_price": round(recent_ticks[0][1] - 0.05, 2),
        "bid_size": int(bids[0]),
        "conditions": [0],
        "participant_timestamp": to_ms(recent_ticks[0][0]) * NS,
        "sequence_number": 0,
        "sip_timestamp": to_ms(recent_ticks[0][0]) * NS,
        "tape": 3,
    }
    assert [Quote.from_dict(q).bid_size for q in body["results"]] == [int(b) for b in bids]


# --- last, snapshots, days, status, reference ----------------------------------------------------


def test_last_trade_and_quote_from_the_live_store_else_the_database(client, recent_ticks):
    code, body = get(client, "/v2/last/trade/SYNTH")
    assert code == 200 and body["results"]["q"] == 599 and body["results"]["T"] == "SYNTH"
    assert LastTrade.from_dict(body["results"]).price == recent_ticks[-1][1]
    now = to_ms(datetime.now(UTC))
    set_live_quote("SYNTH", price=123.45, bid=123.4, ask=123.5, volume=7, timestamp=now, seq=900)
    code, body = get(client, "/v2/last/nbbo/SYNTH")
    quote = LastQuote.from_dict(body["results"])
    assert (quote.bid_price, quote.ask_price, quote.sequence_number) == (123.4, 123.5, 900)
    assert quote.sip_timestamp == now * NS and quote.bid_exchange == 99
    code, body = get(client, "/v2/last/trade/TECH")
    assert code == 404 and body["status"] == "NOT_FOUND" and "no trades" in body["error"]


def test_snapshots(client, recent_ticks):
    code, body = get(client, "/v2/snapshot/locale/us/markets/stocks/tickers?tickers=SYNTH,NOPE")
    assert code == 200 and body["count"] == 1
    snap = TickerSnapshot.from_dict(body["tickers"][0])
    assert snap.ticker == "SYNTH" and snap.last_trade.price == recent_ticks[-1][1]
    assert snap.min.close == float(v1_bars(client, "SYNTH")[-1]["close"])
    assert snap.day.volume == sum(v for _, _, v in recent_ticks) == snap.min.accumulated_volume
    code, body = get(client, "/v2/snapshot/locale/us/markets/stocks/tickers")
    assert body["count"] == TickerRow.objects.filter(is_active=True).count()
    code, body = get(client, "/v2/snapshot/locale/us/markets/stocks/tickers/synth")
    assert code == 200 and body["ticker"]["ticker"] == "SYNTH"
    assert get(client, "/v2/snapshot/locale/us/markets/stocks/tickers/NOPE")[0] == 404


def test_previous_close_and_grouped_daily(client):
    yesterday = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    rows = [(yesterday + timedelta(seconds=i), 10 + i / 100, 1) for i in range(30)]
    store_ticks("SYNTH", rows)
    store_ticks("TECH", [(yesterday, 20, 5)])
    code, body = get(client, "/v2/aggs/ticker/SYNTH/prev")
    assert code == 200 and body["resultsCount"] == 1
    prev = PreviousCloseAgg.from_dict(body["results"][0])
    assert (prev.ticker, prev.open, prev.close, prev.volume) == ("SYNTH", 10.0, 10.29, 30)
    midnight = yesterday.replace(hour=0)
    assert prev.timestamp == to_ms(midnight)
    code, body = get(client, f"/v2/aggs/grouped/locale/us/market/stocks/{midnight:%Y-%m-%d}")
    assert [GroupedDailyAgg.from_dict(r).ticker for r in body["results"]] == ["SYNTH", "TECH"]
    assert body["resultsCount"] == 2
    code, body = get(client, "/v2/aggs/grouped/locale/us/market/stocks/2001-01-01")
    assert code == 200 and body["resultsCount"] == 0 and "results" not in body


def test_market_status_follows_the_market_clock(client):
    code, body = get(client, "/v1/marketstatus/now")
    status_ = MarketStatus.from_dict(body)
    assert code == 200 and status_.market == "open" and status_.exchanges.nyse == "open"
    assert datetime.fromisoformat(status_.server_time).tzinfo is not None


def test_reference_tickers(client):
    code, body = get(client, "/v3/reference/tickers?limit=2")
    symbols = sorted(TickerRow.objects.filter(is_active=True).values_list("symbol", flat=True))
    assert [Ticker.from_dict(t).ticker for t in body["results"]] == symbols[:2]
    assert body["count"] == 2 and body["status"] == "OK"
    rows, pages = follow(client, "/v3/reference/tickers?limit=2")
    assert [r["ticker"] for r in rows] == symbols and pages == (len(symbols) + 1) // 2
    code, body = get(client, "/v3/reference/tickers?ticker.gte=S&order=desc&market=stocks")
    assert [r["ticker"] for r in body["results"]] == [s for s in symbols if s >= "S"][::-1]
    assert get(client, "/v3/reference/tickers?market=crypto")[1]["results"] == []
    code, body = get(client, "/v3/reference/tickers?search=synth")
    assert [r["ticker"] for r in body["results"]] == ["SYNTH"]
    code, body = get(client, "/v3/reference/tickers/synth")
    details = TickerDetails.from_dict(body["results"])
    assert details.ticker == "SYNTH" and details.market == "stocks" and details.active is True


# --- errors, routes, credentials -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, code, words",
    [
        (f"/v2/aggs/ticker/NOPE/range/1/minute/{EVER}", 404, "unknown ticker: NOPE"),
        (f"/v2/aggs/ticker/bad$/range/1/minute/{EVER}", 400, "invalid ticker"),
        (f"/v2/aggs/ticker/SYNTH/range/0/minute/{EVER}", 400, "invalid multiplier"),
        (f"/v2/aggs/ticker/SYNTH/range/x/minute/{EVER}", 400, "invalid multiplier"),
        (f"/v2/aggs/ticker/SYNTH/range/1/fortnight/{EVER}", 400, "invalid timespan"),
        ("/v2/aggs/ticker/SYNTH/range/1/minute/yesterday/2024-01-01", 400, "'from'"),
        ("/v2/aggs/ticker/SYNTH/range/1/minute/2024-01-01/2024-13-01", 400, "'to'"),
        (f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}?limit=50001", 400, "invalid limit"),
        (f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}?sort=up", 400, "invalid sort"),
        (f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}?adjusted=yes", 400, "invalid adjusted"),
        (f"/v2/aggs/ticker/SYNTH/range/1/minute/{EVER}?cursor=%%%", 400, "invalid cursor"),
        ("/v2/aggs/ticker/NOPE/prev", 404, "unknown ticker"),
        ("/v2/aggs/grouped/locale/us/market/stocks/2024-02-30", 400, "invalid date"),
        ("/v3/trades/SYNTH?timestamp=soon", 400, "invalid timestamp"),
        ("/v3/trades/SYNTH?timestamp.gte=1.5", 400, "invalid timestamp.gte"),
        ("/v3/trades/SYNTH?order=sideways", 400, "invalid order"),
        ("/v3/trades/SYNTH?sort=price", 400, "invalid sort"),
        ("/v3/quotes/SYNTH?limit=0", 400, "invalid limit"),
        ("/v3/quotes/NOPE", 404, "unknown ticker"),
        ("/v2/last/nbbo/NOPE", 404, "unknown ticker"),
        ("/v3/reference/tickers?limit=1001", 400, "invalid limit"),
        ("/v3/reference/tickers?sort=size", 400, "invalid sort"),
        ("/v3/reference/tickers/NOPE", 404, "unknown ticker"),
        ("/v3/trades/SYNTH/", 404, "endpoint not found"),
        ("/v3/nothing", 404, "endpoint not found"),
        ("/v1/marketstatus/now/", 404, "endpoint not found"),
        ("/v2/aggs/ticker/SYNTH", 404, "endpoint not found"),
        ("/v2/snapshot/locale/global/markets/crypto/tickers", 404, "endpoint not found"),
    ],
)
def test_bad_input_gets_massives_error_form(client, recent_ticks, url, code, words):
    got, body = get(client, url)
    assert got == code, body
    assert set(body) == {"status", "request_id", "error", "message"}
    assert body["status"] == ("NOT_FOUND" if code == 404 else "ERROR")
    assert words in body["error"] and body["message"] == body["error"]


def test_the_two_dialects_share_v2_each_with_its_error_form(client):
    assert set(get(client, "/v2/aggs/nothing")[1]) == {"status", "request_id", "error", "message"}
    assert set(get(client, "/v2/nothing")[1]) == {"code", "message"}
    assert get(client, "/v2/clock")[0] == 200
    response = client.get("/v3/trades/SYNTH?x=%00")
    assert response.status_code == 400 and response.json()["status"] == "ERROR"


def test_nothing_redirects_and_only_get_is_allowed(client):
    for url in ("/v1/marketstatus/now/", "/v3/reference/tickers/"):
        assert client.get(url).status_code == 404
    response = client.post("/v1/marketstatus/now")
    assert response.status_code == 405 and response.json()["status"] == "ERROR"
    assert client.head("/v1/marketstatus/now").status_code == 200


def test_credentials_when_keys_are_required(client, settings):
    settings.API_KEYS_REQUIRED = True
    _, raw = api_key_create(name="bot")
    code, body = get(client, "/v1/marketstatus/now")
    assert code == 401 and body["error"] == "API Key was not provided"
    assert get(client, "/v1/marketstatus/now", Authorization=f"Bearer {raw}")[0] == 200
    assert client.get(f"/v1/marketstatus/now?apiKey={raw}").status_code == 200
    assert get(client, "/v1/marketstatus/now", **{"X-API-Key": raw})[0] == 200
    for url, headers in (
        ("/v1/marketstatus/now?apiKey=sm_nope", {}),
        ("/v1/marketstatus/now", {"Authorization": "Bearer sm_nope"}),
    ):
        code, body = get(client, url, **headers)
        assert code == 401 and body["error"] == "Unknown API Key" and body["status"] == "ERROR"


def test_any_or_no_key_when_keys_are_not_required(client):
    assert get(client, "/v1/marketstatus/now")[0] == 200
    assert get(client, "/v1/marketstatus/now", Authorization="Bearer anything")[0] == 200
    assert client.get("/v1/marketstatus/now?apiKey=anything").status_code == 200


def test_the_api_key_never_reaches_a_log_line_nor_a_next_url(client, recent_ticks, caplog):
    secret = "sm_" + "s3cr3t" * 7
    with caplog.at_level(logging.DEBUG):
        for url in (
            f"/v3/trades/SYNTH?limit=2&apiKey={secret}",
            f"/v3/nothing?apiKey={secret}",
            f"/v3/trades/NOPE?apiKey={secret}",
        ):
            response = client.get(url)
            assert secret not in response.content.decode()
    assert caplog.records and not any(secret in r.getMessage() for r in caplog.records)
    assert not any(secret in str(r.__dict__) for r in caplog.records)


def test_the_rate_limit_is_a_429_with_retry_after(client, settings):
    settings.API_RATE_LIMIT_ANON = "2/minute"
    assert [client.get("/v1/marketstatus/now").status_code for _ in range(2)] == [200, 200]
    response = client.get("/v1/marketstatus/now")
    assert response.status_code == status.HTTP_429_TOO_MANY_REQUESTS
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["status"] == "ERROR"


@pytest.mark.parametrize(
    "multiplier, timespan, code",
    [
        (10000, "second", 200),
        (10000, "minute", 200),
        (10000, "hour", 200),
        (10000, "day", 200),
        (10000, "week", 200),
        (1200, "month", 200),
        (400, "quarter", 200),
        (100, "year", 200),
        (1201, "month", 400),
        (101, "year", 400),
        (10001, "second", 400),
    ],
)
def test_the_widest_bars(client, recent_ticks, multiplier, timespan, code):
    url = f"/v2/aggs/ticker/SYNTH/range/{multiplier}/{timespan}/0/8999-12-31"
    got, body = get(client, url)
    assert got == code, body
    if code == 200:  # one bar from the epoch on holds every tick
        assert sum(r["v"] for r in body["results"]) == sum(v for _, _, v in recent_ticks)
