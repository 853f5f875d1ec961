"""The Alpaca dialect under /v2/ (api.alpaca): shapes, paging, frames, parameters, errors and
credentials, through Django's test client against the real PostgreSQL and Redis."""

import base64
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from alpaca.data.models import Bar, Quote, Snapshot, Trade
from alpaca.trading.models import Asset, Calendar, Clock
from rest_framework import status

from api.tests.conftest import set_live_quote, store_ticks
from ticks.alpaca_trading import asset_id
from ticks.api_keys import api_key_create
from ticks.engine.sizes import quote_sizes
from ticks.models import Ticker

pytestmark = pytest.mark.django_db

ALL = "start=2000-01-01T00:00:00Z"


def get(client, url, **headers):
    response = client.get(url, headers=headers)
    return response.status_code, response.json()


def follow(client, url: str, key: str) -> tuple[dict, int]:
    """Every page of ``url`` merged as alpaca-py merges them; and the number of pages."""
    merged, token, pages = defaultdict(list), None, 0
    while True:
        code, body = get(client, url + (f"&page_token={token}" if token else ""))
        assert code == status.HTTP_200_OK, body
        pages += 1
        for symbol, rows in body[key].items():
            merged[symbol].extend(rows)
        token = body["next_page_token"]
        if token is None:
            return dict(merged), pages


@pytest.fixture
def two_tickers(recent_ticks):
    """SYNTH's ten minutes (recent_ticks) and TECH's, five minutes at 1 tick/s."""
    start = recent_ticks[0][0]
    rows = [(start + timedelta(seconds=i), 50 + i / 100, 5 + i) for i in range(300)]
    store_ticks("TECH", rows)
    return recent_ticks, rows


def v1_bars(client, symbol, tf="1m"):
    since = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d")
    body = client.get(f"/api/v1/bars/{symbol}?timeframe={tf}&start={since}&limit=5000").json()
    return body["data"]


def alpaca_bar(row: dict) -> dict:
    """An /api/v1 bar as the Alpaca bar it must equal."""
    return {
        "t": row["time"].replace(".000Z", "Z"),
        "o": float(row["open"]),
        "h": float(row["high"]),
        "l": float(row["low"]),
        "c": float(row["close"]),
        "v": row["volume"],
        "n": row["trade_count"],
        "vw": float(row["vwap"]),
    }


def rounded(bar: dict) -> dict:
    """The bar with its VWAP rounded to cents as PostgreSQL rounds it (/api/v1 shows cents)."""
    cents = Decimal(str(bar["vw"])).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return {**bar, "vw": float(cents)}


# --- bars --------------------------------------------------------------------------------------------


def test_multi_symbol_bars_equal_the_v1_bars_sorted_by_symbol(client, two_tickers):
    code, body = get(client, f"/v2/stocks/bars?symbols=tech,SYNTH&timeframe=1Min&{ALL}")
    assert code == status.HTTP_200_OK
    assert list(body) == ["bars", "next_page_token"] and body["next_page_token"] is None
    assert list(body["bars"]) == ["SYNTH", "TECH"]
    for symbol in ("SYNTH", "TECH"):
        expected = [rounded(alpaca_bar(row)) for row in v1_bars(client, symbol)]
        assert [rounded(bar) for bar in body["bars"][symbol]] == expected
        assert [Bar(symbol, bar).close for bar in body["bars"][symbol]]  # alpaca-py parses them


@pytest.mark.parametrize("timeframe, tf", [("5Min", "5m"), ("1Hour", "1h"), ("1Day", "1d")])
def test_stored_frames_are_served_as_stored(client, recent_ticks, timeframe, tf):
    code, body = get(client, f"/v2/stocks/SYNTH/bars?timeframe={timeframe}&{ALL}")
    assert code == status.HTTP_200_OK and body["symbol"] == "SYNTH"
    assert [rounded(b) for b in body["bars"]] == [
        rounded(alpaca_bar(row)) for row in v1_bars(client, "SYNTH", tf)
    ]


def aggregate(bars: list[dict], label) -> list[dict]:
    """Bars of a wider frame from 1m bars, as the rollup combines them."""
    groups = defaultdict(list)
    for bar in bars:
        groups[label(bar["t"])].append(bar)
    out = []
    for t, group in sorted(groups.items()):
        volume = sum(b["v"] for b in group)
        vwap = sum(Decimal(str(b["vw"])) * b["v"] for b in group) / volume
        out.append(
            {
                "t": t,
                "o": group[0]["o"],
                "h": max(b["h"] for b in group),
                "l": min(b["l"] for b in group),
                "c": group[-1]["c"],
                "v": volume,
                "n": sum(b["n"] for b in group),
                "vw": float(round(vwap, 4)),
            }
        )
    return out


@pytest.mark.parametrize(
    "timeframe, label",
    [
        ("3Min", lambda t: t[:14] + f"{int(t[14:16]) // 3 * 3:02d}:00Z"),
        ("15T", lambda t: t[:14] + f"{int(t[14:16]) // 15 * 15:02d}:00Z"),
        ("2Hour", lambda t: t[:11] + f"{int(t[11:13]) // 2 * 2:02d}:00:00Z"),
    ],
)
def test_other_frames_are_aggregated_from_a_stored_one(client, recent_ticks, timeframe, label):
    minute = get(client, f"/v2/stocks/SYNTH/bars?timeframe=1Min&{ALL}")[1]["bars"]
    code, body = get(client, f"/v2/stocks/SYNTH/bars?timeframe={timeframe}&{ALL}")
    assert code == status.HTTP_200_OK
    expected = aggregate(minute, label)
    # The VWAP is combined from a stored frame whose VWAPs are rounded to 4 decimals (1m here,
    # maybe 5m there): equal up to that rounding; everything else exactly.
    assert [{**b, "vw": None} for b in body["bars"]] == [{**b, "vw": None} for b in expected]
    for got, want in zip(body["bars"], expected):
        assert got["vw"] == pytest.approx(want["vw"], abs=2e-4)


def test_week_and_month_bars_start_on_monday_and_the_first(client, recent_ticks):
    day = recent_ticks[0][0].date()
    monday = day - timedelta(days=day.weekday())
    week = get(client, f"/v2/stocks/SYNTH/bars?timeframe=1Week&{ALL}")[1]["bars"]
    month = get(client, f"/v2/stocks/SYNTH/bars?timeframe=1Month&{ALL}")[1]["bars"]
    daily = get(client, f"/v2/stocks/SYNTH/bars?timeframe=1Day&{ALL}")[1]["bars"]
    assert [b["t"] for b in week] == [f"{monday.isoformat()}T00:00:00Z"]
    assert [b["t"] for b in month] == [f"{day.replace(day=1).isoformat()}T00:00:00Z"]
    assert week[0]["v"] == month[0]["v"] == sum(b["v"] for b in daily)


def test_pages_follow_tokens_across_symbols_with_the_limit_counted_across_them(client, two_tickers):
    whole = get(client, f"/v2/stocks/bars?symbols=SYNTH,TECH&timeframe=1Min&{ALL}")[1]["bars"]
    first = get(client, f"/v2/stocks/bars?symbols=SYNTH,TECH&timeframe=1Min&{ALL}&limit=4")[1]
    assert sum(len(rows) for rows in first["bars"].values()) == 4 and first["next_page_token"]
    merged, pages = follow(
        client, f"/v2/stocks/bars?symbols=SYNTH,TECH&timeframe=1Min&{ALL}&limit=4", "bars"
    )
    assert merged == whole and pages == 4  # 10 + 5 bars
    trades, pages = follow(
        client, f"/v2/stocks/trades?symbols=SYNTH,TECH&{ALL}&limit=250", "trades"
    )
    assert [len(trades["SYNTH"]), len(trades["TECH"]), pages] == [600, 300, 4]
    assert [t["i"] for t in trades["SYNTH"]] == list(range(600))


def test_sort_desc_reverses_time_within_each_symbol(client, two_tickers):
    asc = get(client, f"/v2/stocks/bars?symbols=SYNTH,TECH&timeframe=1Min&{ALL}")[1]["bars"]
    desc, _ = follow(
        client, f"/v2/stocks/bars?symbols=SYNTH,TECH&timeframe=1Min&{ALL}&sort=desc&limit=3", "bars"
    )
    assert list(desc) == ["SYNTH", "TECH"]
    assert {s: rows[::-1] for s, rows in desc.items()} == asc


def test_start_and_inclusive_end_bound_the_rows(client, recent_ticks):
    t0 = recent_ticks[0][0]
    start = (t0 + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (t0 + timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    code, body = get(client, f"/v2/stocks/SYNTH/trades?start={start}&end={end.replace('+', '%2B')}")
    assert code == status.HTTP_200_OK and [t["i"] for t in body["trades"]] == list(range(10, 21))
    # The same "+" sent unencoded arrives as a space; an offset other than UTC; nanoseconds.
    spaced = get(client, f"/v2/stocks/SYNTH/trades?start={start}&end={end.replace('+', ' ')}")[1]
    assert spaced["trades"] == body["trades"]
    shifted = (t0 + timedelta(seconds=20, hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000000000%%2B02:00")
    assert get(client, f"/v2/stocks/SYNTH/trades?start={start}&end={shifted}")[1] == body


def test_dates_mean_whole_days_and_the_default_window_is_today(client, recent_ticks):
    day = recent_ticks[0][0].date().isoformat()
    by_date = get(client, f"/v2/stocks/SYNTH/bars?timeframe=1Min&start={day}&end={day}")[1]
    default = get(client, "/v2/stocks/SYNTH/bars?timeframe=1Min")[1]
    assert len(by_date["bars"]) == 10
    if recent_ticks[0][0].date() == recent_ticks[-1][0].date():  # not run across midnight
        assert default == by_date


# --- trades and quotes -------------------------------------------------------------------------------


def test_trades_and_quotes_are_the_v1_ticks_with_sizes_from_the_seed(client, recent_ticks):
    since = recent_ticks[0][0].strftime("%Y-%m-%dT%H:%M:%SZ")
    history = client.get(f"/api/v1/history/SYNTH?start={since}&limit=10000").json()["data"]
    trades = get(client, f"/v2/stocks/trades?symbols=SYNTH&{ALL}")[1]["trades"]["SYNTH"]
    quotes = get(client, f"/v2/stocks/SYNTH/quotes?{ALL}")[1]["quotes"]
    assert len(trades) == len(quotes) == len(history) == 600
    seed = Ticker.objects.get(symbol="SYNTH").seed
    bids, asks = quote_sizes(seed, [row["seq"] for row in history])
    for row, trade, quote, bid, ask in zip(history, trades, quotes, bids, asks):
        stamp = row["time"][:-1] + "000000Z"
        assert trade == {
            "t": stamp,
            "x": "E",
            "p": float(row["price"]),
            "s": row["volume"],
            "c": ["@"],
            "i": row["seq"],
            "z": "C",
        }
        assert quote == {
            "t": stamp,
            "ax": "E",
            "ap": float(row["ask"]),
            "as": int(ask),
            "bx": "E",
            "bp": float(row["bid"]),
            "bs": int(bid),
            "c": ["R"],
            "z": "C",
        }
    assert Trade("SYNTH", trades[0]).id == 0 and Quote("SYNTH", quotes[0]).bid_size >= 1


def test_empty_results_are_empty_objects(client, recent_ticks):
    url = "/v2/stocks/{}?symbols=SYNTH&start=2001-01-01&end=2001-01-02"
    assert get(client, url.format("trades"))[1] == {"trades": {}, "next_page_token": None}
    bars = get(client, url.format("bars") + "&timeframe=1Min")[1]
    assert bars == {"bars": {}, "next_page_token": None}
    single = get(client, "/v2/stocks/TECH/quotes")[1]
    assert single == {"quotes": [], "symbol": "TECH", "next_page_token": None}
    assert get(client, "/v2/stocks/trades/latest?symbols=TECH")[1] == {"trades": {}}


# --- latest and snapshots ----------------------------------------------------------------------------


def test_latest_comes_from_the_live_store_else_the_database(client, recent_ticks):
    last = recent_ticks[-1]
    code, body = get(client, "/v2/stocks/trades/latest?symbols=SYNTH")
    assert code == status.HTTP_200_OK
    assert body["trades"]["SYNTH"]["i"] == 599 and body["trades"]["SYNTH"]["p"] == last[1]
    set_live_quote(
        "SYNTH", price=152.34, bid=152.28, ask=152.4, volume=12500, timestamp=1705314645123, seq=7
    )
    trade = get(client, "/v2/stocks/SYNTH/trades/latest")[1]
    assert trade == {
        "symbol": "SYNTH",
        "trade": {
            "t": "2024-01-15T10:30:45.123000000Z",
            "x": "E",
            "p": 152.34,
            "s": 12500,
            "c": ["@"],
            "i": 7,
            "z": "C",
        },
    }
    quote = get(client, "/v2/stocks/quotes/latest?symbols=SYNTH")[1]["quotes"]["SYNTH"]
    bid, ask = quote_sizes(Ticker.objects.get(symbol="SYNTH").seed, [7])
    assert (quote["bp"], quote["ap"], quote["bs"], quote["as"]) == (152.28, 152.4, bid[0], ask[0])
    v1 = client.get("/api/v1/quote/SYNTH").json()["data"]
    assert (float(v1["price"]), v1["seq"]) == (trade["trade"]["p"], trade["trade"]["i"])


def test_latest_bar_and_snapshots(client, recent_ticks):
    minute = v1_bars(client, "SYNTH")[-1]
    daily = v1_bars(client, "SYNTH", "1d")
    latest = get(client, "/v2/stocks/bars/latest?symbols=SYNTH")[1]["bars"]["SYNTH"]
    assert rounded(latest) == rounded(alpaca_bar(minute))
    assert get(client, "/v2/stocks/SYNTH/bars/latest")[1] == {"symbol": "SYNTH", "bar": latest}
    snapshots = get(client, "/v2/stocks/snapshots?symbols=SYNTH,TECH")[1]
    assert list(snapshots) == ["SYNTH", "TECH"]
    synth = snapshots["SYNTH"]
    assert synth["latestTrade"]["i"] == 599 and synth["latestQuote"]["bs"] >= 1
    assert synth["minuteBar"] == latest
    assert rounded(synth["dailyBar"]) == rounded(alpaca_bar(daily[-1]))
    expected_prev = rounded(alpaca_bar(daily[-2])) if len(daily) > 1 else None
    assert (synth["prevDailyBar"] and rounded(synth["prevDailyBar"])) == expected_prev
    assert snapshots["TECH"] == dict.fromkeys(
        ("latestTrade", "latestQuote", "minuteBar", "dailyBar", "prevDailyBar")
    )
    assert Snapshot("SYNTH", synth).latest_trade.id == 599
    single = get(client, "/v2/stocks/SYNTH/snapshot")[1]
    assert single == {"symbol": "SYNTH", **synth}
    code, body = get(client, "/v2/stocks/TECH/trades/latest")
    assert code == status.HTTP_404_NOT_FOUND and body["code"] == 40410000


# --- Trading-API reads -------------------------------------------------------------------------------


def test_clock_calendar_and_assets_parse_as_alpaca_py_models(client):
    clock = Clock(**get(client, "/v2/clock")[1])
    assert clock.is_open and clock.next_open == clock.next_close
    assert clock.next_open.hour == 0 and clock.next_open > clock.timestamp
    days = get(client, "/v2/calendar?start=2024-02-28&end=2024-03-01")[1]
    assert [Calendar(**day).close.strftime("%H:%M") for day in days] == ["23:59"] * 3
    assert days[0] == {
        "date": "2024-02-28",
        "open": "00:00",
        "close": "23:59",
        "session_open": "0000",
        "session_close": "2359",
        "settlement_date": "2024-02-29",
    }
    assert len(get(client, "/v2/calendar?start=2024-01-01")[1]) == 366
    assets = get(client, "/v2/assets")[1]
    assert [a["symbol"] for a in assets] == ["ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH"]
    parsed = Asset(**assets[3])
    assert (parsed.symbol, str(parsed.id), parsed.status.value) == (
        "SYNTH",
        asset_id("SYNTH"),
        "active",
    )
    assert get(client, f"/v2/assets/{asset_id('SYNTH')}")[1] == assets[3]
    assert get(client, "/v2/assets/synth")[1] == assets[3]
    assert get(client, "/v2/assets?status=inactive")[1] == []
    assert get(client, "/v2/assets?asset_class=crypto")[1] == []
    Ticker.objects.filter(symbol="TECH").update(is_active=False)
    assert [a["symbol"] for a in get(client, "/v2/assets?status=inactive")[1]] == ["TECH"]
    assert get(client, "/v2/assets/NOPE") == (404, {"code": 40410000, "message": "asset not found"})


# --- errors ------------------------------------------------------------------------------------------

BARS = "/v2/stocks/bars?symbols=SYNTH&timeframe=1Min"


@pytest.mark.parametrize(
    "url, code, alpaca_code, words",
    [
        ("/v2/stocks/bars?symbols=SYNTH&timeframe=2x", 422, 42210000, "invalid timeframe"),
        ("/v2/stocks/bars?symbols=SYNTH", 422, 42210000, "invalid timeframe"),
        ("/v2/stocks/bars?symbols=SYNTH&timeframe=60Min", 422, 42210000, "invalid timeframe"),
        ("/v2/stocks/bars?symbols=SYNTH&timeframe=5Month", 422, 42210000, "invalid timeframe"),
        ("/v2/stocks/bars?symbols=SYNTH&timeframe=2Day", 422, 42210000, "invalid timeframe"),
        (f"{BARS}&start=yesterday", 422, 42210000, "invalid start"),
        (f"{BARS}&end=2024-13-01", 422, 42210000, "invalid end"),
        (f"{BARS}&start=1705314645123", 422, 42210000, "invalid start"),
        (f"{BARS}&start=2024-01-02&end=2024-01-01", 422, 42210000, "end should not be before"),
        (f"{BARS}&limit=0", 422, 42210000, "invalid limit"),
        (f"{BARS}&limit=10001", 422, 42210000, "invalid limit"),
        (f"{BARS}&limit=ten", 422, 42210000, "invalid limit"),
        (f"{BARS}&sort=up", 422, 42210000, "invalid sort"),
        (f"{BARS}&feed=otc", 422, 42210000, "invalid feed"),
        (f"{BARS}&adjustment=splits", 422, 42210000, "invalid adjustment"),
        (f"{BARS}&currency=EUR", 422, 42210000, "invalid currency"),
        (f"{BARS}&asof=tomorrow", 422, 42210000, "invalid asof"),
        (f"{BARS}&page_token=zz", 400, 40010001, "invalid page_token"),
        (f"{BARS}&page_token=WyJURUNIIiwxXQ", 400, 40010001, "invalid page_token"),
        ("/v2/stocks/bars?timeframe=1Min", 400, 40010001, "missing symbols"),
        ("/v2/stocks/trades?symbols=SYNTH,NOPE", 404, 40410000, "unknown symbol: NOPE"),
        ("/v2/stocks/trades?symbols=SYN%24TH", 400, 40010001, "invalid symbol"),
        ("/v2/stocks/NOPE/trades", 404, 40410000, "unknown symbol"),
        ("/v2/stocks/snapshots?symbols=NOPE", 404, 40410000, "unknown symbol"),
        ("/v2/calendar?start=2024-01-02&end=2024-01-01", 422, 42210000, "end should not"),
        ("/v2/calendar?start=1990-01-01&end=2024-01-01", 422, 42210000, "larger than"),
        ("/v2/assets?status=gone", 422, 42210000, "invalid status"),
        ("/v2/clock/", 404, 40410000, "endpoint not found"),
        ("/v2/stocks/bars/", 404, 40410000, "endpoint not found"),
        ("/v2/nothing", 404, 40410000, "endpoint not found"),
    ],
)
def test_bad_input_gets_alpacas_error_form(client, recent_ticks, url, code, alpaca_code, words):
    response = client.get(url)
    assert response.status_code == code and response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["code", "message"] and body["code"] == alpaca_code
    assert words in body["message"]


def test_accepted_values_of_the_optional_parameters(client, recent_ticks):
    plain = get(client, f"{BARS}&{ALL}")[1]
    for extra in (
        "feed=iex",
        "feed=sip",
        "feed=delayed_sip",
        "adjustment=all",
        "asof=-",
        "asof=2024-01-15",
        "currency=USD",
        "sort=asc",
        "unknown=1",
        "format=csv",
    ):
        assert get(client, f"{BARS}&{ALL}&{extra}") == (200, plain), extra


def test_nothing_redirects_and_only_get_is_allowed(client):
    assert client.get("/v2/clock/").status_code == status.HTTP_404_NOT_FOUND
    response = client.post("/v2/clock")
    assert response.status_code == status.HTTP_405_METHOD_NOT_ALLOWED
    assert response.json()["code"] == 40510000


def test_a_nul_byte_is_alpacas_400(client):
    response = client.get("/v2/clock?x=%00")
    assert response.status_code == status.HTTP_400_BAD_REQUEST
    assert response.json() == {"code": 40010001, "message": "bad request"}


# --- credentials and limits --------------------------------------------------------------------------


def basic(key_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()


def test_credentials_when_keys_are_required(client, settings):
    settings.API_KEYS_REQUIRED = True
    _, raw = api_key_create(name="bot")
    shown = raw[:11]
    code, body = get(client, "/v2/clock")
    assert code == 401 and body["code"] == 40110000 and "APCA-API-KEY-ID" in body["message"]
    good = {"APCA-API-KEY-ID": shown, "APCA-API-SECRET-KEY": raw}
    assert get(client, "/v2/clock", **good)[0] == 200
    assert get(client, "/v2/clock", Authorization=basic(shown, raw))[0] == 200
    assert get(client, "/v2/clock", **{"X-API-Key": raw})[0] == 200
    assert get(client, "/v2/clock", Authorization=f"Bearer {raw}")[0] == 200
    for bad in (
        {"APCA-API-KEY-ID": "sm_wrongid", "APCA-API-SECRET-KEY": raw},
        {"APCA-API-KEY-ID": shown, "APCA-API-SECRET-KEY": raw + "x"},
        {"APCA-API-KEY-ID": shown},
        {"Authorization": basic(shown, "nope")},
        {"Authorization": "Basic !!notbase64"},
        {"X-API-Key": "sm_nope"},
    ):
        code, body = get(client, "/v2/clock", **bad)
        assert code == 401 and body["code"] == 40110000, bad


def test_any_or_no_credentials_when_keys_are_not_required(client):
    assert get(client, "/v2/clock")[0] == 200
    assert (
        get(client, "/v2/clock", **{"APCA-API-KEY-ID": "x", "APCA-API-SECRET-KEY": "y"})[0] == 200
    )
    assert get(client, "/v2/clock", Authorization=basic("x", "y"))[0] == 200


def test_the_rate_limit_is_alpacas_429_with_retry_after(client, settings):
    settings.API_RATE_LIMIT_ANON = "2/minute"
    assert [client.get("/v2/clock").status_code for _ in range(2)] == [200, 200]
    response = client.get("/v2/clock")
    assert response.status_code == status.HTTP_429_TOO_MANY_REQUESTS
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["code"] == 42910000
