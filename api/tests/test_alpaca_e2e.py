"""The unmodified alpaca-py against a real daphne: ``StockHistoricalDataClient`` and
``TradingClient`` with only ``url_override`` changed, on one backfilled day (5 tickers at
1 tick/s, shared by the module's tests), compared with our own ``/api/v1`` answers."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import environ
import psycopg
import pytest
import redis
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import (
    StockBarsRequest,
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockQuotesRequest,
    StockSnapshotRequest,
    StockTradesRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetStatus
from alpaca.trading.requests import GetAssetsRequest, GetCalendarRequest
from psycopg import sql

from config.ensure_database import ensure_database
from testsupport.services import free_port
from testsupport.stack import ROOT, Stack
from ticks.alpaca_trading import asset_id
from ticks.engine.sizes import quote_sizes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SYMBOLS = ["ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH"]
MANAGE = [sys.executable, "manage.py"]


def _database_url() -> str:
    base = os.environ["DATABASE_URL"]
    name = environ.Env.db_url_config(base)["NAME"]
    return base.rsplit("/", 1)[0] + f"/{name}_alpacae2e_{uuid.uuid4().hex[:8]}"


def _connect(url: str, dbname: str | None = None):
    cfg = environ.Env.db_url_config(url)
    params = {
        "host": cfg.get("HOST") or None,
        "port": cfg.get("PORT") or None,
        "user": cfg.get("USER") or None,
        "password": cfg.get("PASSWORD") or None,
    }
    return psycopg.connect(
        dbname=dbname or cfg["NAME"],
        autocommit=True,
        **{k: v for k, v in params.items() if v},
    )


def _drop(url: str) -> None:
    name = environ.Env.db_url_config(url)["NAME"]
    with _connect(url, "postgres") as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


class Service:
    def __init__(self, stack: Stack, key: str, seeds: dict, end: datetime):
        self.stack, self.key, self.seeds, self.end = stack, key, seeds, end
        self.base = f"http://127.0.0.1:{stack.web_port}"
        self.key_id = key[:11]
        self.start = end - timedelta(hours=24)

    def data(self, **kwargs) -> StockHistoricalDataClient:
        return StockHistoricalDataClient(self.key_id, self.key, url_override=self.base, **kwargs)

    def trading(self) -> TradingClient:
        return TradingClient(self.key_id, self.key, paper=True, url_override=self.base)

    def v1(self, path: str, **params) -> dict:
        url = f"{self.base}/api/v1/{path}?{urlencode(params)}"
        request = urllib.request.Request(url, headers={"X-API-Key": self.key})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def v1_all(self, path: str, **params) -> list[dict]:
        """Every row of a forward ``/api/v1`` window, following ``meta.next``."""
        rows, body = [], self.v1(path, **params)
        while True:
            rows += body["data"]
            link = body["meta"].get("next")
            if not link:
                return rows
            request = urllib.request.Request(link, headers={"X-API-Key": self.key})
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.loads(response.read())


def _run(args: list[str], env: dict) -> str:
    done = subprocess.run(
        [*MANAGE, *args, "--settings=config.settings.test"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
        capture_output=True,
        text=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def service():
    """A private database with a backfilled day of all five tickers at 1 tick/s, an API key,
    and daphne requiring keys; removed however the tests end."""
    from django.conf import settings

    url = _database_url()
    _drop(url)
    ensure_database(url)
    stack = Stack(
        database_url=url,
        redis_url=settings.REDIS_URL,
        web_port=free_port(),
        env={"API_KEYS_REQUIRED": "true", "API_RATE_LIMIT_KEY": "100000/minute"},
    )
    try:
        _run(["migrate", "--noinput", "-v", "0"], stack.env)
        with _connect(url) as conn:
            conn.execute("UPDATE ticks_ticker SET tick_interval_ms = 1000")
        end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        _run(["backfill", "--hours", "24", "--end", end.isoformat(), "--no-progress"], stack.env)
        key = _run(
            [
                "shell",
                "-c",
                "from ticks.api_keys import api_key_create; print(api_key_create(name='e2e')[1])",
            ],
            stack.env,
        ).split()[-1]
        with _connect(url) as conn:
            seeds = dict(conn.execute("SELECT symbol, seed FROM ticks_ticker").fetchall())
        stack.start("web")
        service = Service(stack, key, seeds, end)
        stack.wait_for(lambda: _answers(service.base), timeout=60, what="daphne answering")
        yield service
        assert all(stack.alive().values()), stack.logs()
    finally:
        stack.close()
        r = redis.Redis.from_url(settings.REDIS_URL)
        for name in r.scan_iter(match=f"{stack.redis_prefix}:*", count=1000):
            r.delete(name)
        _drop(url)


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def as_tuple(bar) -> tuple:
    """An alpaca-py ``Bar`` as comparable values; the VWAP last (``same_bars``)."""
    return (
        bar.timestamp.astimezone(UTC),
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
        bar.trade_count,
        bar.vwap,
    )


def v1_tuple(row: dict) -> tuple:
    return (
        datetime.fromisoformat(row["time"]),
        float(row["open"]),
        float(row["high"]),
        float(row["low"]),
        float(row["close"]),
        float(row["volume"]),
        float(row["trade_count"]),
        float(row["vwap"]),
    )


def combine(rows: list[dict], label) -> list[tuple]:
    """/api/v1 bars combined into a wider frame, as the service aggregates them."""
    groups = defaultdict(list)
    for row in rows:
        groups[label(datetime.fromisoformat(row["time"]))].append(row)
    out = []
    for t, group in sorted(groups.items()):
        volume = sum(r["volume"] for r in group)
        vwap = sum(Decimal(r["vwap"]) * r["volume"] for r in group) / volume
        out.append(
            (
                t,
                float(group[0]["open"]),
                max(float(r["high"]) for r in group),
                min(float(r["low"]) for r in group),
                float(group[-1]["close"]),
                float(volume),
                float(sum(r["trade_count"] for r in group)),
                float(vwap),
            )
        )
    return out


def same_bars(got: list[tuple], expected: list[tuple]) -> bool:
    """Equal bars; VWAPs within a cent (/api/v1 shows them rounded to cents, ours have the
    4 stored decimals)."""
    assert [b[:-1] for b in got] == [b[:-1] for b in expected]
    assert all(abs(g[-1] - e[-1]) <= 0.0100001 for g, e in zip(got, expected))
    return True


FRAMES = {
    "1Min": (TimeFrame.Minute, "1m", None),
    "5Min": (TimeFrame(5, TimeFrameUnit.Minute), "5m", None),
    "15Min": (
        TimeFrame(15, TimeFrameUnit.Minute),
        "5m",
        lambda t: t.replace(minute=t.minute // 15 * 15),
    ),
    "1Hour": (TimeFrame.Hour, "1h", None),
    "1Day": (TimeFrame.Day, "1d", None),
    "1Week": (TimeFrame.Week, "1d", lambda t: t - timedelta(days=t.weekday())),
}


@pytest.mark.parametrize("name", list(FRAMES))
def test_bars_of_several_symbols_equal_our_v1_bars(service, name):
    timeframe, stored, label = FRAMES[name]
    symbols = ["SYNTH", "TECH", "ENERGY"]
    start = service.start - timedelta(days=7)  # whole weeks and days
    bars = service.data().get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols=symbols, timeframe=timeframe, start=start, end=service.end
        )
    )
    assert sorted(bars.data) == sorted(symbols)
    for symbol in symbols:
        rows = service.v1_all(
            f"bars/{symbol}",
            timeframe=stored,
            start=iso(service.start - timedelta(days=1)),
            end=iso(service.end + timedelta(seconds=1)),
            limit=5000,
        )
        expected = [v1_tuple(r) for r in rows] if label is None else combine(rows, label)
        assert same_bars([as_tuple(bar) for bar in bars[symbol]], expected), (name, symbol)
    frame = bars.df
    assert list(frame.index.names) == ["symbol", "timestamp"]
    assert len(frame) == sum(len(bars[s]) for s in symbols)
    assert set(frame.columns) >= {"open", "high", "low", "close", "volume", "trade_count", "vwap"}


class Spy:
    """Counts the HTTP requests a client's session makes (the client itself is untouched)."""

    def __init__(self, client):
        self.urls: list[str] = []
        session = client._session
        send = session.request

        def request(method, url, **kwargs):
            self.urls.append(url)
            return send(method, url, **kwargs)

        session.request = request


def test_a_large_request_follows_next_page_token_and_trades_equal_our_ticks(service):
    client = service.data()
    spy = Spy(client)
    start = service.end - timedelta(hours=10)
    trades = client.get_stock_trades(
        StockTradesRequest(symbol_or_symbols="SYNTH", start=start, end=service.end)
    )
    assert len(spy.urls) >= 4  # 36,000 trades in pages of 10,000
    ticks = service.v1_all(
        "history/SYNTH", start=iso(start), end=iso(service.end + timedelta(seconds=1)), limit=10000
    )
    assert [(t.timestamp.astimezone(UTC), t.price, t.size, t.id) for t in trades["SYNTH"]] == [
        (datetime.fromisoformat(r["time"]), float(r["price"]), float(r["volume"]), r["seq"])
        for r in ticks
    ]
    assert {(t.exchange, t.tape, tuple(t.conditions)) for t in trades["SYNTH"]} == {
        ("E", "C", ("@",))
    }
    assert list(trades.df.index.names) == ["symbol", "timestamp"]


def test_quotes_carry_our_bid_and_ask_with_sizes_from_the_seed(service):
    start = service.end - timedelta(minutes=30)
    quotes = service.data().get_stock_quotes(
        StockQuotesRequest(symbol_or_symbols=["TECH", "SYNTH"], start=start, end=service.end)
    )
    for symbol in ("SYNTH", "TECH"):
        ticks = service.v1_all(
            f"history/{symbol}",
            start=iso(start),
            end=iso(service.end + timedelta(seconds=1)),
            limit=10000,
        )
        bids, asks = quote_sizes(service.seeds[symbol], [r["seq"] for r in ticks])
        assert [
            (q.timestamp.astimezone(UTC), q.bid_price, q.ask_price, q.bid_size, q.ask_size)
            for q in quotes[symbol]
        ] == [
            (
                datetime.fromisoformat(r["time"]),
                float(r["bid"]),
                float(r["ask"]),
                float(b),
                float(a),
            )
            for r, b, a in zip(ticks, bids, asks)
        ]
    assert len(quotes.df) == len(quotes["SYNTH"]) + len(quotes["TECH"])


def test_latest_trade_quote_bar_and_snapshots(service):
    client = service.data()
    trades = client.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=SYMBOLS))
    quotes = client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="SYNTH"))
    bars = client.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=["SYNTH", "TECH"]))
    snapshots = client.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["SYNTH", "TECH"]))
    quote = service.v1("quote/SYNTH")["data"]
    assert sorted(trades) == SYMBOLS
    assert (trades["SYNTH"].price, trades["SYNTH"].id) == (float(quote["price"]), quote["seq"])
    assert (quotes["SYNTH"].bid_price, quotes["SYNTH"].ask_price) == (
        float(quote["bid"]),
        float(quote["ask"]),
    )
    minute = service.v1("bars/SYNTH", timeframe="1m", limit=1)["data"][-1]
    assert same_bars([as_tuple(bars["SYNTH"])], [v1_tuple(minute)])
    daily = service.v1("bars/SYNTH", timeframe="1d", start=iso(service.start - timedelta(days=1)))[
        "data"
    ]
    snap = snapshots["SYNTH"]
    assert snap.latest_trade.id == quote["seq"] and snap.latest_quote.bid_size >= 1
    assert same_bars(
        [as_tuple(snap.minute_bar), as_tuple(snap.daily_bar), as_tuple(snap.previous_daily_bar)],
        [v1_tuple(minute), v1_tuple(daily[-1]), v1_tuple(daily[-2])],
    )


def test_an_unknown_symbol_and_a_bad_timeframe_raise_api_errors(service):
    client = service.data()
    with pytest.raises(APIError) as unknown:
        client.get_stock_bars(StockBarsRequest(symbol_or_symbols="NOPE", timeframe=TimeFrame.Day))
    assert unknown.value.status_code == 404 and unknown.value.code == 40410000
    assert unknown.value.message == "unknown symbol: NOPE (our tickers: /v2/assets)"
    with pytest.raises(APIError) as bad:
        client.get("/stocks/bars", {"symbols": "SYNTH", "timeframe": "90Min"})
    assert bad.value.status_code == 422 and bad.value.code == 42210000
    assert bad.value.message.startswith("invalid timeframe")
    wrong = StockHistoricalDataClient(service.key_id, "sm_wrong", url_override=service.base)
    with pytest.raises(APIError) as denied:
        wrong.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols="SYNTH"))
    assert denied.value.status_code == 401 and denied.value.code == 40110000
    basic = service.data(use_basic_auth=True)
    assert basic.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols="SYNTH"))


def test_trading_client_clock_calendar_and_assets(service):
    client = service.trading()
    clock = client.get_clock()
    assert clock.is_open and clock.next_close > clock.timestamp
    days = client.get_calendar(
        GetCalendarRequest(start=service.start.date(), end=service.end.date())
    )
    assert [d.date for d in days][0] == service.start.date()
    assert all((d.open.hour, d.close.hour, d.close.minute) == (0, 23, 59) for d in days)
    assets = client.get_all_assets()
    assert [a.symbol for a in assets] == SYMBOLS
    assert [
        a.symbol for a in client.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE))
    ] == SYMBOLS
    synth = client.get_asset("SYNTH")
    assert str(synth.id) == asset_id("SYNTH") and synth.asset_class.value == "us_equity"
    assert client.get_asset(asset_id("SYNTH")).symbol == "SYNTH"
