"""``/v2/iex`` end to end: daphne, the celery generator, worker and beat as real processes
(keys required), driven by the unmodified alpaca-py ``StockDataStream`` (parsed models and
``raw_data=True``, msgpack) and by a plain ``websockets`` JSON client, at the same time, for more
than a full minute: consecutive trade ids, quotes with sizes, and the minute bar equal to the
trades of its minute. Then the coded errors."""

import asyncio
import json
import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
import redis
import websockets
from alpaca.data.live import StockDataStream
from alpaca.data.models import Bar, Quote, Trade

from config.ensure_database import ensure_database
from testsupport.services import free_port
from testsupport.stack import ROOT, Stack
from ticks.api_keys import SHOWN_PREFIX_LENGTH, new_key_material

from .test_e2e import _database_url, _drop_database, _port_open

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SYMBOLS = ("SYNTH", "TECH")
MAX_WAIT_S = 150


class AlpacaStack:
    def __init__(self, stack: Stack, key: str) -> None:
        self.stack, self.key = stack, key
        self.key_id = key[:SHOWN_PREFIX_LENGTH]
        self.url = f"ws://127.0.0.1:{stack.web_port}/v2/iex"


@pytest.fixture(scope="module")
def alpaca_live():
    from django.conf import settings

    database_url = _database_url()
    _drop_database(database_url)
    ensure_database(database_url)
    stack = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
            + ["--settings=config.settings.test"],
            cwd=ROOT,
            check=True,
            timeout=300,
            env={**os.environ, "DATABASE_URL": database_url},
        )
        raw, prefix, digest = new_key_material()
        with psycopg.connect(
            database_url.replace("postgres://", "postgresql://"), autocommit=True
        ) as c:
            c.execute(
                "INSERT INTO api_apikey (name, prefix, key_hash, created_at) VALUES "
                "('alpaca e2e', %s, %s, now())",
                (prefix, digest),
            )
        stack = Stack(
            database_url=database_url,
            redis_url=settings.REDIS_URL,
            web_port=free_port(),
            env={"API_KEYS_REQUIRED": "true"},
        ).start("generator", "worker", "beat", "web")
        r = redis.Redis.from_url(settings.REDIS_URL)
        stack.wait_for(
            lambda: all(r.hexists(f"{stack.redis_prefix}:quotes", s) for s in SYMBOLS),
            timeout=60,
            what="the first ticks",
        )
        stack.wait_for(lambda: _port_open(stack.web_port), timeout=60, what="daphne")
        yield AlpacaStack(stack, raw)
        assert all(stack.alive().values()), stack.logs()
    finally:
        if stack is not None:
            stack.close()
            r = redis.Redis.from_url(settings.REDIS_URL)
            for key in r.scan_iter(match=f"{stack.redis_prefix}:*", count=1000):
                r.delete(key)
        _drop_database(database_url)


class Collected:
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


def _run_alpaca_py(live: AlpacaStack, *, raw: bool, out: Collected, stop: threading.Event):
    stream = StockDataStream(live.key_id, live.key, raw_data=raw, url_override=live.url)

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


async def _run_json(live: AlpacaStack, out: Collected, stop: threading.Event) -> None:
    async with websockets.connect(live.url) as ws:
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


def _check(out: Collected, *, parsed: bool) -> dict:
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


def test_alpaca_py_raw_and_json_clients_get_the_same_stream(alpaca_live):
    parsed, raw, plain = Collected(), Collected(), Collected()
    stops = [threading.Event() for _ in range(3)]
    threads = [
        threading.Thread(
            target=_run_alpaca_py,
            args=(alpaca_live,),
            kwargs=dict(raw=False, out=parsed, stop=stops[0]),
        ),
        threading.Thread(
            target=_run_alpaca_py,
            args=(alpaca_live,),
            kwargs=dict(raw=True, out=raw, stop=stops[1]),
        ),
        threading.Thread(target=lambda: asyncio.run(_run_json(alpaca_live, plain, stops[2]))),
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + MAX_WAIT_S
    try:
        while time.monotonic() < deadline and not all(c.done() for c in (parsed, raw, plain)):
            time.sleep(0.5)
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(30)
    assert all(c.done() for c in (parsed, raw, plain)), alpaca_live.stack.logs()
    seen = [_check(parsed, parsed=True), _check(raw, parsed=False), _check(plain, parsed=False)]
    # The same trades, whichever client and encoding: where their windows overlap, equal.
    by_id = [
        {(_sym(t), t.id if hasattr(t, "id") else t["i"]): t for t in c.trades}
        for c in (parsed, raw, plain)
    ]
    common = set(by_id[0]) & set(by_id[1]) & set(by_id[2])
    assert len(common) > 100
    for key in common:
        a, b, c = (d[key] for d in by_id)
        assert (a.price, a.size, _ms(a)) == (b["p"], b["s"], _ms(b)) == (c["p"], c["s"], _ms(c))
    assert seen[0] or seen[1] or seen[2]


def test_coded_errors_over_the_wire(alpaca_live):
    async def scenario() -> None:
        async with websockets.connect(alpaca_live.url) as ws:
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
