"""The unmodified alpaca-py against a real daphne: ``StockHistoricalDataClient`` and
``TradingClient`` with only ``url_override`` changed, on one backfilled day (5 tickers at
1 tick/s, ``api.tests.backfilled_day``), compared with our own ``/api/v1`` answers."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
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
from alpaca.trading.enums import AssetStatus
from alpaca.trading.requests import GetAssetsRequest, GetCalendarRequest

from api.tests.backfilled_day import SYMBOLS, iso
from ticks.alpaca_trading import asset_id
from ticks.engine.sizes import quote_sizes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


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
