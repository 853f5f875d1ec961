"""The vendor streams end to end, in one live minute: daphne, the celery generator, worker and
beat as real processes (keys required).

- ``/v2/iex``: the unmodified alpaca-py ``StockDataStream`` (parsed models, and ``raw_data=True``
  over msgpack) and a plain ``websockets`` JSON client; consecutive trade ids for more than a
  full minute, quotes with sizes, and the minute bar equal to the trades of its minute.
- ``/stocks``: the unmodified ``massive`` ``WebSocketClient`` subscribed to ``T.*``, ``Q.SYNTH``
  and ``AM.*``: parsed ``EquityTrade``, ``EquityQuote`` and ``EquityAgg`` models, consecutive
  ids, and the minute aggregate equal to its trades.

All four clients run at the same time on the same market (a minute bar needs a whole minute of
trades, so the wait is shared), and where their windows overlap they got the same trades. Then
each dialect's errors: Alpaca's coded errors, the massive client's ``AuthError``."""

import asyncio
import json
import threading
import time

import pytest
import websockets
from alpaca.data.live import StockDataStream
from alpaca.data.models import Bar, Quote, Trade
from massive import WebSocketClient
from massive.exceptions import AuthError
from massive.websocket.models import EquityAgg, EquityQuote, EquityTrade

from testsupport.live import LiveMarket, live_market

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SYMBOLS = ("SYNTH", "TECH")
ALPACA_PATH = "/v2/iex"
MAX_WAIT_S = 150


# A minute bar can be checked against its trades only once a whole market minute has been
# watched. The market clock is moved (MARKET_CLOCK_OFFSET_SECONDS) so that a market minute
# begins about LEAD_S after the processes are started, once the clients are connected: the
# test waits one minute, not up to two. (Connected later, it takes the next minute.)
LEAD_S = 25


def _minute_ahead_offset(lead_s: float) -> float:
    """The offset (0 to 60 s) that puts a market minute's start ``lead_s`` from now."""
    return -(time.time() + lead_s) % 60


@pytest.fixture(scope="module")
def vendor_live():
    offset = _minute_ahead_offset(LEAD_S)
    env = {"MARKET_CLOCK_OFFSET_SECONDS": f"{offset:.3f}"}
    with live_market(symbols=SYMBOLS, key="vendor streams e2e", env=env) as market:
        yield market


# --- Alpaca ---------------------------------------------------------------------------------


class AlpacaCollected:
    def __init__(self) -> None:
        self.trades, self.quotes, self.bars = [], [], []

    def done(self) -> bool:
        """A closed minute bar of each symbol whose whole minute of trades was collected."""
        return all(self.full_minute(s) is not None for s in SYMBOLS)

    def full_minute(self, symbol: str):
        times = [_ms(t) for t in self.trades if _sym(t) == symbol]
        if not times:
            return None
        for bar in self.bars:
            start = _ms(bar)
            if _sym(bar) == symbol and min(times) < start and max(times) >= start + 60_000:
                return bar
        return None


def _sym(x):
    return x.symbol if hasattr(x, "symbol") else x["S"]


def _ms(x) -> int:
    if hasattr(x, "timestamp"):
        return round(x.timestamp.timestamp() * 1000)
    t = x["t"]
    if isinstance(t, str):  # JSON: RFC 3339 with nanoseconds
        from datetime import datetime

        return round(datetime.fromisoformat(t[:23] + "+00:00").timestamp() * 1000)
    return t.to_unix_nano() // 1_000_000  # raw msgpack Timestamp


def _run_alpaca_py(live: LiveMarket, *, raw: bool, out: AlpacaCollected, stop: threading.Event):
    stream = StockDataStream(
        live.key_id, live.key, raw_data=raw, url_override=live.url(ALPACA_PATH)
    )

    async def on_trade(t):
        out.trades.append(t)

    async def on_quote(q):
        out.quotes.append(q)

    async def on_bar(b):
        out.bars.append(b)

    stream.subscribe_trades(on_trade, *SYMBOLS)
    stream.subscribe_quotes(on_quote, *SYMBOLS)
    stream.subscribe_bars(on_bar, *SYMBOLS)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    stop.wait(MAX_WAIT_S)
    stream.stop()
    thread.join(15)
    assert not thread.is_alive()


async def _run_json(live: LiveMarket, out: AlpacaCollected, stop: threading.Event) -> None:
    async with websockets.connect(live.url(ALPACA_PATH)) as ws:
        assert json.loads(await ws.recv()) == [{"T": "success", "msg": "connected"}]
        await ws.send(json.dumps({"action": "auth", "key": live.key_id, "secret": live.key}))
        assert json.loads(await ws.recv()) == [{"T": "success", "msg": "authenticated"}]
        channels = {c: list(SYMBOLS) for c in ("trades", "quotes", "bars")}
        await ws.send(json.dumps({"action": "subscribe", **channels}))
        while not stop.is_set():
            try:
                frame = await asyncio.wait_for(ws.recv(), 1)
            except TimeoutError:
                continue
            assert isinstance(frame, str)
            for message in json.loads(frame):
                kind = {"t": out.trades, "q": out.quotes, "b": out.bars}.get(message["T"])
                if kind is not None:
                    kind.append(message)


def _check_alpaca(out: AlpacaCollected, *, parsed: bool) -> dict:
    trade_type = Trade if parsed else dict
    assert out.trades and all(isinstance(t, trade_type) for t in out.trades)
    assert all(isinstance(q, Quote if parsed else dict) for q in out.quotes)
    assert all(isinstance(b, Bar if parsed else dict) for b in out.bars)
    minutes = {}
    for symbol in SYMBOLS:
        trades = [t for t in out.trades if _sym(t) == symbol]
        ids = [t.id if parsed else t["i"] for t in trades]
        assert ids == list(range(ids[0], ids[0] + len(ids))), (symbol, ids[:5])
        assert max(map(_ms, trades)) - min(map(_ms, trades)) >= 60_000
        quotes = [q for q in out.quotes if _sym(q) == symbol]
        sizes = [(q.bid_size, q.ask_size) if parsed else (q["bs"], q["as"]) for q in quotes]
        assert len(quotes) >= len(trades) - 5 and all(b >= 1 and a >= 1 for b, a in sizes)
        bar = out.full_minute(symbol)
        start = _ms(bar)
        inside = [t for t in trades if start <= _ms(t) < start + 60_000]
        prices = [t.price if parsed else t["p"] for t in inside]
        volume = sum(t.size if parsed else t["s"] for t in inside)
        got = (
            (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count)
            if parsed
            else (bar["o"], bar["h"], bar["l"], bar["c"], bar["v"], bar["n"])
        )
        assert got == (prices[0], max(prices), min(prices), prices[-1], volume, len(inside))
        minutes[symbol] = {
            (t.id if parsed else t["i"]): (t.price if parsed else t["p"]) for t in inside
        }
    return minutes


def test_alpaca_coded_errors_over_the_wire(vendor_live):
    async def scenario() -> None:
        async with websockets.connect(vendor_live.url(ALPACA_PATH)) as ws:
            await asyncio.wait_for(ws.recv(), 10)
            await ws.send(json.dumps({"action": "subscribe", "trades": ["SYNTH"]}))
            assert json.loads(await ws.recv()) == [
                {"T": "error", "code": 401, "msg": "not authenticated"}
            ]
            await ws.send("{malformed")
            assert json.loads(await ws.recv()) == [
                {"T": "error", "code": 400, "msg": "invalid syntax"}
            ]
            await ws.send(json.dumps({"action": "auth", "key": "nope", "secret": "nope"}))
            assert json.loads(await ws.recv()) == [
                {"T": "error", "code": 402, "msg": "auth failed"}
            ]
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd.code == 4008

    asyncio.run(scenario())


# --- Massive --------------------------------------------------------------------------------


class MassiveCollected:
    def __init__(self) -> None:
        self.trades: list[EquityTrade] = []
        self.quotes: list[EquityQuote] = []
        self.aggs: list[EquityAgg] = []
        self.other: list = []

    async def take(self, messages) -> None:
        for m in messages:
            {EquityTrade: self.trades, EquityQuote: self.quotes, EquityAgg: self.aggs}.get(
                type(m), self.other
            ).append(m)

    def full_minute(self, symbol: str) -> EquityAgg | None:
        """A minute aggregate of ``symbol`` whose whole minute of trades was received."""
        times = [t.timestamp for t in self.trades if t.symbol == symbol]
        for agg in self.aggs:
            if agg.symbol == symbol and times and min(times) < agg.start_timestamp:
                if max(times) >= agg.end_timestamp:
                    return agg
        return None

    def done(self) -> bool:
        return all(self.full_minute(s) is not None for s in SYMBOLS)


def _client(port: int, key: str) -> WebSocketClient:
    return WebSocketClient(api_key=key, feed=f"127.0.0.1:{port}", market="stocks", secure=False)


def _massive_client(port: int, key: str) -> WebSocketClient:
    return WebSocketClient(api_key=key, feed=f"127.0.0.1:{port}", market="stocks", secure=False)


class MassiveRun:
    """The massive client on its own event loop in a thread, collecting into ``out``."""

    def __init__(self, live: LiveMarket) -> None:
        self.client = _massive_client(live.web_port, live.key)
        self.client.subscribe("T.*", "Q.SYNTH", "AM.*")
        self.out = MassiveCollected()
        self.loop = asyncio.new_event_loop()
        self.failure: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self.client.connect(self.out.take))
        except BaseException as e:  # reported by the test
            self.failure.append(e)

    def stop(self) -> None:
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.client.close(), self.loop).result(15)
        self.thread.join(15)
        assert not self.thread.is_alive() and not self.failure, self.failure
        self.loop.close()


def _check_massive(out: MassiveCollected) -> None:
    assert out.trades and out.quotes and out.aggs and not out.other
    assert {q.symbol for q in out.quotes} == {"SYNTH"}
    for symbol in SYMBOLS:
        trades = [t for t in out.trades if t.symbol == symbol]
        ids = [int(t.id) for t in trades]
        assert ids == list(range(ids[0], ids[0] + len(ids))), (symbol, ids[:5])
        assert [t.sequence_number for t in trades] == ids
        assert trades[-1].timestamp - trades[0].timestamp >= 60_000
        assert {(t.exchange, t.tape, tuple(t.conditions)) for t in trades} == {(99, 3, (0,))}
        agg = out.full_minute(symbol)
        inside = [t for t in trades if agg.start_timestamp <= t.timestamp < agg.end_timestamp]
        prices = [t.price for t in inside]
        volume = sum(t.size for t in inside)
        assert (agg.event_type, agg.end_timestamp - agg.start_timestamp) == ("AM", 60_000)
        assert (agg.open, agg.high, agg.low, agg.close, agg.volume) == (
            prices[0],
            max(prices),
            min(prices),
            prices[-1],
            volume,
        )
        vwap = sum(t.price * t.size for t in inside) / volume
        assert agg.vwap == pytest.approx(vwap, abs=1e-4)
        assert agg.average_size == round(volume / len(inside))
        # The day so far (its daily bar less later minutes): at least this minute.
        assert agg.accumulated_volume >= volume and agg.official_open_price > 0
        assert agg.aggregate_vwap > 0
    quotes = [q for q in out.quotes if q.symbol == "SYNTH"]
    synth_ids = {int(t.id) for t in out.trades if t.symbol == "SYNTH"}
    assert {q.sequence_number for q in quotes} <= synth_ids | {max(synth_ids) + 1}
    assert len(quotes) >= len(synth_ids) - 5
    assert all(q.bid_size >= 1 and q.ask_size >= 1 and q.bid_price < q.ask_price for q in quotes)


def test_a_wrong_key_raises_the_massive_clients_auth_error(vendor_live):

    async def handle(messages) -> None:
        pass

    with pytest.raises(AuthError, match="authentication failed"):
        asyncio.run(
            asyncio.wait_for(_massive_client(vendor_live.web_port, "wrong").connect(handle), 30)
        )


# --- One minute, all four clients ------------------------------------------------------------


def test_alpaca_and_massive_clients_stream_the_same_full_minute(vendor_live):
    parsed, raw, plain = AlpacaCollected(), AlpacaCollected(), AlpacaCollected()
    stops = [threading.Event() for _ in range(3)]
    threads = [
        threading.Thread(
            target=_run_alpaca_py,
            args=(vendor_live,),
            kwargs=dict(raw=False, out=parsed, stop=stops[0]),
        ),
        threading.Thread(
            target=_run_alpaca_py,
            args=(vendor_live,),
            kwargs=dict(raw=True, out=raw, stop=stops[1]),
        ),
        threading.Thread(target=lambda: asyncio.run(_run_json(vendor_live, plain, stops[2]))),
    ]
    massive = MassiveRun(vendor_live)
    for thread in [*threads, massive.thread]:
        thread.start()
    collected = (parsed, raw, plain, massive.out)
    deadline = time.monotonic() + MAX_WAIT_S
    try:
        while time.monotonic() < deadline and not all(c.done() for c in collected):
            if not massive.thread.is_alive():
                break
            time.sleep(0.5)
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(30)
        massive.stop()
    assert all(c.done() for c in collected), vendor_live.stack.logs()

    seen = [
        _check_alpaca(parsed, parsed=True),
        _check_alpaca(raw, parsed=False),
        _check_alpaca(plain, parsed=False),
    ]
    assert all(seen)
    _check_massive(massive.out)
    # The same trades, whichever client, dialect and encoding: where their windows overlap, equal.
    by_id = [
        {(_sym(t), t.id if hasattr(t, "id") else t["i"]): t for t in c.trades}
        for c in (parsed, raw, plain)
    ]
    by_id.append({(t.symbol, int(t.id)): t for t in massive.out.trades})
    common = set(by_id[0]) & set(by_id[1]) & set(by_id[2]) & set(by_id[3])
    assert len(common) > 100
    for key in common:
        a, b, c, m = (d[key] for d in by_id)
        assert (a.price, a.size, _ms(a)) == (b["p"], b["s"], _ms(b)) == (c["p"], c["s"], _ms(c))
        assert (m.price, m.size, m.timestamp) == (a.price, a.size, _ms(a))
