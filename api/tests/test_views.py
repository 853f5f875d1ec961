"""The endpoints' behaviour: symbols, paging, empty tickers, CSV, the browsable API, CORS."""

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from rest_framework import status

from ticks.models import Ticker

from .conftest import minute_floor, store_ticks

pytestmark = pytest.mark.django_db
UTC = UTC


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def body_of(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def follow(client, url: str, rel: str) -> list[dict]:
    """Every row reached by following ``meta[rel]`` from ``url``, in the order returned."""
    pages = []
    while url:
        parts = urlsplit(url)
        body = client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path).json()
        assert body["success"], body
        pages.append(body["data"])
        url = body["meta"][rel]
    rows = [row for page in (pages if rel == "next" else reversed(pages)) for row in page]
    return rows


# --- Tickers and symbols ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "quote/synth",
        "quote/SyNtH",
        "quote/%20SYNTH%20",
        "quote/SYNTH/",
        "history/synth",
        "bars/synth/",
        "stats/Synth",
    ],
)
def test_symbols_are_case_insensitive_and_a_trailing_slash_is_fine(client, recent_ticks, path):
    response = client.get(f"/api/v1/{path}")
    assert response.status_code == status.HTTP_200_OK
    assert response.json()["meta"]["ticker"] == "SYNTH"


@pytest.mark.parametrize("endpoint", ["quote", "history", "bars", "stats"])
@pytest.mark.parametrize("symbol", ["NOPE", "toolongsymbol1", "a%00b", "%F0%9F%92%A5", "SY NTH"])
def test_an_unknown_ticker_is_a_404(client, endpoint, symbol):
    response = client.get(f"/api/v1/{endpoint}/{symbol}")
    assert response.status_code == status.HTTP_404_NOT_FOUND
    assert response.json()["error"]["code"] == "unknown_ticker"
    assert response.json()["success"] is False


def test_a_new_ticker_is_served_at_once(client):
    client.get("/api/v1/tickers")
    Ticker.objects.create(
        symbol="NEWCO",
        name="New Co",
        sector="Tech",
        start_price=10,
        drift=0,
        volatility=0.1,
        min_price=1,
        max_price=100,
    )
    assert client.get("/api/v1/quote/newco").json()["error"]["code"] == "no_data"
    assert "NEWCO" in [t["ticker"] for t in client.get("/api/v1/tickers").json()["data"]]


def test_a_ticker_without_data(client):
    """no_data on quote, empty lists on history and bars, empty statistics."""
    quote = client.get("/api/v1/quote/TECH")
    assert quote.status_code == status.HTTP_404_NOT_FOUND
    assert quote.json() == {
        "success": False,
        "error": {"code": "no_data", "message": "TECH has no quotes yet."},
    }
    for path in ("history/TECH", "bars/TECH", "history/TECH?start=0", "bars/TECH?start=0"):
        body = client.get(f"/api/v1/{path}").json()
        assert body["data"] == [] and body["meta"]["count"] == 0
        assert body["meta"].get("prev") is None and body["meta"].get("next") is None
    stats = client.get("/api/v1/stats/TECH?period=7d").json()["data"]
    assert stats == {
        "ticker": "TECH",
        "period": "7d",
        "tick_count": 0,
        "open": None,
        "high": None,
        "low": None,
        "close": None,
        "avg_price": None,
        "total_volume": 0,
        "volatility": None,
        "change": None,
        "change_pct": None,
    }


# --- Paging ---------------------------------------------------------------------------------------


def test_meta_echoes_the_resolved_window(client, recent_ticks):
    first = recent_ticks[0][0]
    url = f"/api/v1/history/SYNTH?start={z(first)}&end={z(first + timedelta(seconds=5))}&limit=3"
    body = client.get(url).json()
    assert [row["time"] for row in body["data"]] == [
        z(first + timedelta(seconds=i)) for i in range(3)
    ]
    assert body["meta"] == {
        "ticker": "SYNTH",
        "start": z(first),
        "end": z(first + timedelta(seconds=5)),
        "count": 3,
        "limit": 3,
        "next": "http://testserver/api/v1/history/SYNTH?limit=3&start="
        + z(first + timedelta(seconds=2, milliseconds=1)).replace(":", "%3A")
        + "&end="
        + z(first + timedelta(seconds=5)).replace(":", "%3A"),
    }


def test_without_start_the_newest_rows_come_ascending_with_prev(client, recent_ticks):
    body = client.get("/api/v1/history/SYNTH?limit=5").json()
    assert [row["seq"] for row in body["data"]] == [595, 596, 597, 598, 599]
    last = recent_ticks[-1][0]
    assert body["meta"]["prev"] == (
        "http://testserver/api/v1/history/SYNTH?limit=5&end="
        + z(last - timedelta(seconds=4)).replace(":", "%3A")
    )
    assert "next" not in body["meta"]


def test_paging_backwards_returns_every_tick_once(client, recent_ticks):
    rows = follow(client, "/api/v1/history/SYNTH?limit=77", "prev")
    assert [row["seq"] for row in rows] == list(range(600))


def test_paging_forwards_returns_every_tick_once(client, recent_ticks):
    start = z(recent_ticks[0][0] - timedelta(minutes=5))
    rows = follow(client, f"/api/v1/history/SYNTH?start={start}&limit=77", "next")
    assert [row["seq"] for row in rows] == list(range(600))


def test_bars_page_both_ways(client, recent_ticks):
    assert len(follow(client, "/api/v1/bars/SYNTH?limit=3", "prev")) == 10
    start = z(recent_ticks[0][0])
    forward = follow(client, f"/api/v1/bars/SYNTH?start={start}&limit=4", "next")
    assert [bar["time"] for bar in forward] == [
        z(recent_ticks[0][0] + timedelta(minutes=i)) for i in range(10)
    ]


def test_cursors_are_stable_while_new_ticks_arrive(client, recent_ticks):
    first = client.get("/api/v1/history/SYNTH?limit=100").json()
    last_time = recent_ticks[-1][0]
    store_ticks("SYNTH", [(last_time + timedelta(seconds=i), 200, 1) for i in range(1, 30)])
    older = client.get(first["meta"]["prev"]).json()
    assert [row["seq"] for row in older["data"]] == list(range(400, 500))
    # Forward pages are cut by time too: ticks stored meanwhile before the cursor change nothing.
    start = z(recent_ticks[0][0])
    page = client.get(f"/api/v1/history/SYNTH?start={start}&limit=50").json()
    store_ticks("SYNTH", [(recent_ticks[0][0] - timedelta(seconds=i), 50, 1) for i in range(1, 10)])
    assert client.get(page["meta"]["next"]).json()["data"][0]["price"] == "100.50"


def test_a_gap_before_the_window_is_jumped_not_hidden(client):
    old = minute_floor(datetime.now(UTC)) - timedelta(hours=5)
    store_ticks("SYNTH", [(old + timedelta(seconds=i), 100, 1) for i in range(10)])
    body = client.get("/api/v1/history/SYNTH").json()
    assert body["data"] == []
    assert body["meta"]["prev"].endswith(
        "end=" + z(old + timedelta(seconds=9, milliseconds=1)).replace(":", "%3A")
    )
    assert len(client.get(body["meta"]["prev"]).json()["data"]) == 10


def test_a_start_alone_is_clamped_to_the_largest_window_and_continues(client):
    old = minute_floor(datetime.now(UTC)) - timedelta(days=3)
    store_ticks("SYNTH", [(old, 100, 1), (old + timedelta(days=2), 101, 1)])
    body = client.get(f"/api/v1/history/SYNTH?start={z(old)}").json()
    assert [row["price"] for row in body["data"]] == ["100.00"]
    assert body["meta"]["end"] == z(old + timedelta(days=1))
    assert body["meta"]["next"].endswith("start=" + z(old + timedelta(days=2)).replace(":", "%3A"))
    assert [row["price"] for row in client.get(body["meta"]["next"]).json()["data"]] == ["101.00"]


def test_dates_in_every_accepted_form(client, recent_ticks):
    first = recent_ticks[0][0]
    ms = int(first.timestamp() * 1000)
    forms = [
        z(first),
        first.isoformat(),
        first.replace(tzinfo=None).isoformat(),
        first.astimezone(timezone(timedelta(hours=2))).isoformat(),
        str(ms),
        first.astimezone(timezone(timedelta(hours=2))).isoformat().replace("+", " "),
    ]
    for form in forms:
        body = client.get("/api/v1/history/SYNTH", {"start": form, "limit": 1}).json()
        assert body["data"][0]["seq"] == 0, form


# --- Formats --------------------------------------------------------------------------------------


def test_history_as_csv(client, recent_ticks):
    response = client.get("/api/v1/history/SYNTH?limit=2&format=csv")
    assert response.status_code == status.HTTP_200_OK and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    last = recent_ticks[-1][0]
    assert body_of(response).decode().splitlines() == [
        "time,ticker,price,volume,bid,ask,seq",
        f"{z(last - timedelta(seconds=1))},SYNTH,105.98,608,105.93,106.03,598",
        f"{z(last)},SYNTH,105.99,609,105.94,106.04,599",
    ]
    assert 'rel="prev"' in response["Link"] and "format=csv" in response["Link"]


def test_bars_as_csv_by_accept_header(client, recent_ticks):
    response = client.get("/api/v1/bars/SYNTH?limit=1", HTTP_ACCEPT="text/csv")
    lines = body_of(response).decode().splitlines()
    assert lines[0] == "time,ticker,timeframe,open,high,low,close,volume,trade_count,vwap"
    assert len(lines) == 2 and lines[1].split(",")[1:3] == ["SYNTH", "1m"]


def test_a_large_csv_page_is_streamed_in_chunks(client):
    start = minute_floor(datetime.now(UTC)) - timedelta(minutes=30)
    store_ticks("SYNTH", [(start + timedelta(milliseconds=100 * i), 100, 1) for i in range(5000)])
    response = client.get(f"/api/v1/history/SYNTH?start={z(start)}&limit=5000&format=csv")
    chunks = list(response.streaming_content)
    assert len(chunks) == 3
    assert b"".join(chunks).count(b"\r\n") == 5001


def test_an_error_of_a_csv_request_is_json(client):
    response = client.get("/api/v1/history/SYNTH?limit=0&format=csv")
    assert response.status_code == status.HTTP_400_BAD_REQUEST
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "invalid_limit"


@pytest.mark.parametrize("path", ["tickers", "quote/SYNTH", "stats/SYNTH", "time"])
def test_csv_only_where_it_makes_sense(client, path):
    """(An empty or unknown format is refused everywhere.)"""
    for fmt in ("", "xml"):
        response = client.get(f"/api/v1/history/SYNTH?format={fmt}")
        assert response.json()["error"]["message"] == "format must be one of: json, api, csv."
    response = client.get(f"/api/v1/{path}?format=csv")
    assert response.status_code == status.HTTP_406_NOT_ACCEPTABLE
    assert response.json() == {
        "success": False,
        "error": {"code": "not_acceptable", "message": "format must be one of: json, api."},
    }


@pytest.mark.parametrize(
    "path", ["", "tickers", "quote/SYNTH", "history/SYNTH", "bars/SYNTH", "stats/SYNTH", "time"]
)
def test_the_browsable_api_on_every_endpoint(client, recent_ticks, path):
    response = client.get(f"/api/v1/{path}", HTTP_ACCEPT="text/html")
    assert response.status_code == status.HTTP_200_OK
    assert response["Content-Type"].startswith("text/html")
    assert b"&quot;success&quot;: true" in response.content


def test_head_is_answered(client):
    response = client.head("/api/v1/tickers")
    assert response.status_code == status.HTTP_200_OK and response.content == b""


def test_options_describes_the_endpoint_in_the_envelope(client):
    body = client.options("/api/v1/bars/SYNTH").json()
    assert body["success"] is True and body["data"]["name"] == "Bar List"
    assert "text/csv" in body["data"]["renders"]


def test_server_time(client):
    before = datetime.now(UTC)
    body = client.get("/api/v1/time").json()
    after = datetime.now(UTC)
    moment = datetime.fromisoformat(body["data"]["time"])
    assert before - timedelta(milliseconds=1) <= moment <= after
    assert body["data"]["timestamp"] == int(moment.timestamp() * 1000)
    assert body["meta"] == {}


def test_the_root_lists_the_endpoints(client):
    data = client.get("/api/v1/").json()["data"]
    assert data["quote"] == "http://testserver/api/v1/quote/SYNTH"
    assert set(data) == {"tickers", "time", "schema", "docs", "quote", "history", "bars", "stats"}


# --- CORS ---------------------------------------------------------------------------------------


@override_settings(CORS_ALLOWED_ORIGINS=["https://charts.example"])
def test_cors_for_allowed_origins_only(client):
    allowed = client.get("/api/v1/tickers", HTTP_ORIGIN="https://charts.example")
    assert allowed["Access-Control-Allow-Origin"] == "https://charts.example"
    assert "X-RateLimit-Remaining" in allowed["Access-Control-Expose-Headers"]
    other = client.get("/api/v1/tickers", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other
    preflight = client.options(
        "/api/v1/quote/SYNTH",
        HTTP_ORIGIN="https://charts.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-api-key",
    )
    assert preflight.status_code == status.HTTP_200_OK
    assert "x-api-key" in preflight["Access-Control-Allow-Headers"]


@override_settings(CORS_ALLOWED_ORIGINS=["https://charts.example"])
def test_no_cors_outside_the_api(client):
    response = client.get("/healthz", HTTP_ORIGIN="https://charts.example")
    assert "Access-Control-Allow-Origin" not in response
