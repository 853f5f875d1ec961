"""``/stocks`` end to end: daphne, the celery generator, worker and beat as real processes
(keys required), driven by the unmodified ``massive`` ``WebSocketClient`` subscribed to ``T.*``,
``Q.SYNTH`` and ``AM.*``: parsed ``EquityTrade``, ``EquityQuote`` and ``EquityAgg`` models,
consecutive trade ids for more than a full minute, and that minute's aggregate equal to its
trades. Then a wrong key raising the client's ``AuthError``."""

import asyncio
import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
import redis
from massive import WebSocketClient
from massive.exceptions import AuthError
from massive.websocket.models import EquityAgg, EquityQuote, EquityTrade

from config.ensure_database import ensure_database
from testsupport.services import free_port
from testsupport.stack import ROOT, Stack
from ticks.api_keys import new_key_material

from .test_e2e import _database_url, _drop_database, _port_open

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SYMBOLS = ("SYNTH", "TECH")
MAX_WAIT_S = 150


@pytest.fixture(scope="module")
def massive_live():
    """``(stack, key)``: the live market, served with keys required, and a valid key."""
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
                "('massive e2e', %s, %s, now())",
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
        yield stack, raw
        assert all(stack.alive().values()), stack.logs()
    finally:
        if stack is not None:
            stack.close()
        _drop_database(database_url)


class Collected:
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


def test_the_massive_client_streams_trades_quotes_and_minute_aggregates(massive_live):
    stack, key = massive_live
    client = _client(stack.web_port, key)
    client.subscribe("T.*", "Q.SYNTH", "AM.*")
    out = Collected()
    loop = asyncio.new_event_loop()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            loop.run_until_complete(client.connect(out.take))
        except BaseException as e:  # reported by the test below
            failure.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + MAX_WAIT_S
    try:
        while time.monotonic() < deadline and not out.done() and thread.is_alive():
            time.sleep(0.5)
    finally:
        if thread.is_alive():
            asyncio.run_coroutine_threadsafe(client.close(), loop).result(15)
        thread.join(15)
    assert not thread.is_alive() and not failure, failure
    loop.close()
    assert out.done(), stack.logs()
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


def test_a_wrong_key_raises_the_clients_auth_error(massive_live):
    stack, _ = massive_live

    async def handle(messages) -> None:
        pass

    with pytest.raises(AuthError, match="authentication failed"):
        asyncio.run(asyncio.wait_for(_client(stack.web_port, "wrong").connect(handle), 30))
