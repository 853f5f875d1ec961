"""The unmodified ``massive`` client (``RESTClient(api_key, base=...)``) against a real daphne,
on one backfilled day (5 tickers at 1 tick/s, the Alpaca end-to-end module's fixture),
compared with our own ``/api/v1`` answers and the Alpaca dialect's."""

from datetime import UTC, date, datetime, timedelta

import pytest
from alpaca.data.requests import StockBarsRequest, StockQuotesRequest, StockTradesRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from massive import RESTClient
from massive.exceptions import BadResponse

from api.tests.backfilled_day import SYMBOLS, iso
from ticks.engine.sizes import quote_sizes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
NS = 1_000_000


class Counting(RESTClient):
    """The client as published; only its requests are counted (``_get`` is what every call and
    every ``next_url`` goes through)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.paths: list[str] = []

    def _get(self, path, *args, **kwargs):
        self.paths.append(path)
        return super()._get(path, *args, **kwargs)


def client(service, key=None) -> Counting:
    return Counting(key or service.key, base=service.base, retries=0)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def agg_tuple(agg) -> tuple:
    return (agg.timestamp, agg.open, agg.high, agg.low, agg.close, agg.volume, agg.transactions)


def v1_tuple(row: dict) -> tuple:
    return (
        ms(datetime.fromisoformat(row["time"])),
        float(row["open"]),
        float(row["high"]),
        float(row["low"]),
        float(row["close"]),
        row["volume"],
        row["trade_count"],
    )


def alpaca_tuple(bar) -> tuple:
    return (
        ms(bar.timestamp),
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
        bar.trade_count,
    )


FRAMES = {  # (multiplier, timespan): (v1 timeframe, Alpaca timeframe, limit)
    (1, "minute"): ("1m", TimeFrame.Minute, 500),
    (5, "minute"): ("5m", TimeFrame(5, TimeFrameUnit.Minute), 1000),
    (15, "minute"): (None, TimeFrame(15, TimeFrameUnit.Minute), 5000),
    (1, "hour"): ("1h", TimeFrame.Hour, 600),
    (1, "day"): ("1d", TimeFrame.Day, 5000),
}


@pytest.mark.parametrize("multiplier, timespan", list(FRAMES))
def test_list_aggs_follows_next_url_and_equals_v1_and_alpaca(service, multiplier, timespan):
    tf, alpaca_tf, limit = FRAMES[(multiplier, timespan)]
    start = service.start.replace(hour=0, minute=0) if timespan == "day" else service.start
    rest = client(service)
    aggs = list(
        rest.list_aggs("SYNTH", multiplier, timespan, ms(start), ms(service.end), limit=limit)
    )
    bars = service.data().get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="SYNTH", timeframe=alpaca_tf, start=start, end=service.end
        )
    )
    got = [agg_tuple(a) for a in aggs]
    assert got == [alpaca_tuple(b) for b in bars["SYNTH"]]
    assert [round(a.vwap, 4) for a in aggs] == [round(b.vwap, 4) for b in bars["SYNTH"]]
    if tf is not None:
        rows = service.v1_all(
            "bars/SYNTH",
            timeframe=tf,
            start=iso(start),
            end=iso(service.end + timedelta(seconds=1)),
            limit=5000,
        )
        assert got == [
            v1_tuple(r) for r in rows if ms(datetime.fromisoformat(r["time"])) >= ms(start)
        ]
    pages = -(-len(aggs) // max(1, limit // (multiplier * (60 if timespan == "hour" else 1))))
    assert len(rest.paths) == pages
    if timespan == "minute" and multiplier == 1:
        assert len(aggs) > 1400 and len(rest.paths) >= 3  # a day in pages of 500 minutes


def test_second_aggregates_are_made_of_the_ticks(service):
    start = service.end - timedelta(minutes=5)
    rest = client(service)
    seconds = list(rest.list_aggs("TECH", 10, "second", ms(start), ms(service.end) - 1, limit=100))
    assert len(rest.paths) == 3 and len(seconds) == 30  # 10 bars of 10 seconds a page
    ticks = service.v1_all("history/TECH", start=iso(start), end=iso(service.end), limit=10000)
    assert sum(a.volume for a in seconds) == sum(r["volume"] for r in ticks)
    assert sum(a.transactions for a in seconds) == len(ticks) == 300
    assert seconds[0].open == float(ticks[0]["price"]) and seconds[-1].close == float(
        ticks[-1]["price"]
    )


def test_previous_close_and_grouped_daily_are_the_v1_daily_bars(service):
    rest = client(service)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    daily = {
        symbol: service.v1(
            f"bars/{symbol}", timeframe="1d", start=iso(service.start - timedelta(days=1))
        )["data"]
        for symbol in SYMBOLS
    }
    (prev,) = rest.get_previous_close_agg("SYNTH")
    (row,) = [r for r in daily["SYNTH"] if r["time"].startswith(yesterday.isoformat())]
    assert (
        prev.ticker,
        prev.timestamp,
        prev.open,
        prev.high,
        prev.low,
        prev.close,
        prev.volume,
    ) == (
        "SYNTH",
        *v1_tuple(row)[:6],
    )
    grouped = rest.get_grouped_daily_aggs(yesterday)
    assert [g.ticker for g in grouped] == SYMBOLS
    for agg in grouped:
        (row,) = [r for r in daily[agg.ticker] if r["time"].startswith(yesterday.isoformat())]
        assert agg_tuple(agg) == v1_tuple(row)
    assert rest.get_grouped_daily_aggs(date(2001, 1, 1)) == []


def test_list_trades_and_quotes_follow_next_url_and_equal_the_ticks(service):
    start, end = service.end - timedelta(minutes=30), service.end - timedelta(minutes=10)
    rest = client(service)
    trades = list(
        rest.list_trades(
            "SYNTH", timestamp_gte=ms(start) * NS, timestamp_lt=ms(end) * NS, order="asc", limit=500
        )
    )
    assert len(trades) == 1200 and len(rest.paths) == 3
    ticks = service.v1_all("history/SYNTH", start=iso(start), end=iso(end), limit=10000)
    assert [(t.sip_timestamp, t.price, t.size, t.sequence_number, t.id) for t in trades] == [
        (
            ms(datetime.fromisoformat(r["time"])) * NS,
            float(r["price"]),
            r["volume"],
            r["seq"],
            str(r["seq"]),
        )
        for r in ticks
    ]
    assert {(t.exchange, t.tape, tuple(t.conditions)) for t in trades} == {(99, 3, (0,))}
    alpaca = service.data().get_stock_trades(
        StockTradesRequest(
            symbol_or_symbols="SYNTH", start=start, end=end - timedelta(milliseconds=1)
        )
    )
    assert [t.sequence_number for t in trades] == [t.id for t in alpaca["SYNTH"]]
    quotes = list(
        rest.list_quotes("SYNTH", timestamp_gte=start, timestamp_lt=end, order="desc", limit=1000)
    )
    bids, asks = quote_sizes(service.seeds["SYNTH"], [r["seq"] for r in ticks])
    assert [
        (q.sequence_number, q.bid_price, q.ask_price, q.bid_size, q.ask_size) for q in quotes
    ] == [
        (r["seq"], float(r["bid"]), float(r["ask"]), int(b), int(a))
        for r, b, a in reversed(list(zip(ticks, bids, asks)))
    ]
    alpaca_quotes = service.data().get_stock_quotes(
        StockQuotesRequest(
            symbol_or_symbols="SYNTH", start=start, end=end - timedelta(milliseconds=1)
        )
    )
    assert [(q.bid_size, q.ask_size) for q in reversed(quotes)] == [
        (q.bid_size, q.ask_size) for q in alpaca_quotes["SYNTH"]
    ]


def test_last_trade_quote_and_snapshots(service):
    rest = client(service)
    quote = service.v1("quote/SYNTH")["data"]
    trade = rest.get_last_trade("SYNTH")
    assert (trade.ticker, trade.price, trade.sequence_number) == (
        "SYNTH",
        float(quote["price"]),
        quote["seq"],
    )
    nbbo = rest.get_last_quote("SYNTH")
    assert (nbbo.bid_price, nbbo.ask_price, nbbo.sequence_number) == (
        float(quote["bid"]),
        float(quote["ask"]),
        quote["seq"],
    )
    assert nbbo.sip_timestamp == ms(datetime.fromisoformat(quote["time"])) * NS
    snaps = rest.get_snapshot_all("stocks")
    assert [s.ticker for s in snaps] == SYMBOLS
    assert rest.get_snapshot_all("stocks", tickers=["TECH", "SYNTH"])[1].ticker == "TECH"
    snap = rest.get_snapshot_ticker("stocks", "SYNTH")
    minute = service.v1("bars/SYNTH", timeframe="1m", limit=1)["data"][-1]
    assert snap.last_trade.price == float(quote["price"]) and snap.last_quote.bid_price == float(
        quote["bid"]
    )
    assert (snap.min.timestamp, snap.min.close) == (
        ms(datetime.fromisoformat(minute["time"])),
        float(minute["close"]),
    )
    assert snap.todays_change == round(snap.last_trade.price - snap.prev_day.close, 2)


def test_market_status_and_tickers(service):
    rest = client(service)
    status = rest.get_market_status()
    assert status.market == "open" and status.exchanges.nasdaq == "open"
    tickers = list(rest.list_tickers(limit=2))
    assert [t.ticker for t in tickers] == SYMBOLS and len(rest.paths) == 4  # + status
    assert {(t.market, t.locale, t.type, t.active) for t in tickers} == {
        ("stocks", "us", "CS", True)
    }
    assert rest.get_ticker_details("TECH").ticker == "TECH"


def test_an_unknown_ticker_and_a_wrong_key_raise_the_clients_error(service):
    rest = client(service)
    with pytest.raises(BadResponse) as unknown:
        list(rest.list_aggs("NOPE", 1, "day", "2024-01-01", "2024-01-31"))
    assert "unknown ticker: NOPE (our tickers: /v3/reference/tickers)" in str(unknown.value)
    assert '"status":"NOT_FOUND"' in str(unknown.value)
    with pytest.raises(BadResponse) as bad:
        rest.get_last_trade("NOPE")
    assert "unknown ticker: NOPE" in str(bad.value)
    wrong = client(service, key="sm_wrong")
    with pytest.raises(BadResponse) as denied:
        wrong.get_market_status()
    assert "Unknown API Key" in str(denied.value)
