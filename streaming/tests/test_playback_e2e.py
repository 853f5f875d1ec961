"""Playback end to end: twelve minutes of SYNTH and TECH at 10 ticks/s, backfilled by the backfill
service into the test database, served by a real daphne.

- ``/ws`` at ``speed=60``: ten minutes of both tickers arrive in 10 s (within 5%, from the
  times the client read them), exactly the stored ticks (count, order, seq, prices) that
  ``/api/v1/history`` returns.
- ``/ws`` at ``max``: the same ticks, as fast as the client reads.
- alpaca-py's unmodified ``StockDataStream`` pointed at ``/v2/playback``: the stored trades of a
  minute reach its ordinary handler, and the connection stays open after the end.
- the ``massive`` client's unmodified ``WebSocketClient`` with ``feed="host:port/playback/<start>/
  <end>/<speed>"``: the stored trades of a minute reach its ordinary handler, and ``connect``
  returns when the server closes normally (1000) at the end."""

import asyncio
import json
import os
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import redis
import websockets
from alpaca.data.live import StockDataStream
from alpaca.data.models import Trade
from massive import WebSocketClient
from massive.websocket.models import EquityTrade

from testsupport.live import web_answers
from testsupport.services import free_port
from testsupport.stack import Stack

# django_db: pytest-django sets the test database up only for sessions with tests that use it.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db]
SYMBOLS = ("SYNTH", "TECH")


class Stored:
    def __init__(self, stack: Stack, end: datetime) -> None:
        self.stack = stack
        self.end = end  # the backfill's end (a whole minute)
        self.base = f"http://127.0.0.1:{stack.web_port}"
        self.ws = f"ws://127.0.0.1:{stack.web_port}"

    def history(self, symbol: str, start: datetime, end: datetime) -> list[dict]:
        rows = []
        url = f"{self.base}/api/v1/history/{symbol}?" + urlencode(
            {"start": _iso(start), "end": _iso(end), "limit": 10000}
        )
        while url:
            with urllib.request.urlopen(url, timeout=30) as response:
                body = json.loads(response.read())
            rows += body["data"]
            url = body["meta"].get("next")
        return rows


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture(scope="module")
def stored(django_db_setup, django_db_blocker):
    """Twelve minutes of SYNTH and TECH backfilled (the backfill service) into this worker's
    test database, daphne on it; the rows are removed after."""
    from django.conf import settings
    from django.db import connection

    from ticks.backfill import history_window, plan_backfill, rollup_range, write_plan
    from ticks.models import Bar, Tick, Ticker, TickerState

    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    with django_db_blocker.unblock():
        tickers = list(Ticker.objects.filter(symbol__in=SYMBOLS).order_by("symbol"))
        assert not Tick.objects.filter(ticker__in=tickers).exists()
        plan = plan_backfill(tickers=tickers, duration=timedelta(minutes=12), end=end)
        with history_window(plan):
            write_plan(plan)
            rollup_range(plan)
        connection.close()
    name = settings.DATABASES["default"]["NAME"]
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    stack = Stack(
        database_url=url,
        redis_url=settings.REDIS_URL,
        web_port=free_port(),
        # a higher cap than the default: these tests check what is played, not its cost to live
        # clients (bench playback's figure), and wait less for ten minutes at "max"
        env={"API_RATE_LIMIT_ANON": "", "PLAYBACK_MAX_RATE": "5000"},
    )
    try:
        stack.start("web")
        stack.wait_for(lambda: web_answers(stack.web_port), timeout=60, what="daphne")
        yield Stored(stack, end)
        assert all(stack.alive().values()), stack.logs()
    finally:
        stack.close()
        r = redis.Redis.from_url(settings.REDIS_URL)
        for key in r.scan_iter(match=f"{stack.redis_prefix}:*", count=1000):
            r.delete(key)
        with django_db_blocker.unblock():
            Tick.objects.filter(ticker__in=tickers).delete()
            Bar.objects.filter(ticker__in=tickers).delete()
            TickerState.objects.filter(ticker__in=tickers).delete()
            connection.close()


async def _play(stored: Stored, start: datetime, end: datetime, speed) -> list[tuple]:
    """``(monotonic time read, message)`` of a ``/ws`` playback, up to ``playback_done``."""
    out = []
    async with websockets.connect(f"{stored.ws}/ws", max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "connected"
        request = {"type": "playback", "tickers": list(SYMBOLS), "speed": speed}
        await ws.send(json.dumps({**request, "start": _iso(start), "end": _iso(end)}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            out.append((time.monotonic(), message))
            if message["type"] in ("playback_done", "error"):
                return out


def _check_against_history(stored: Stored, start, end, messages) -> list[tuple]:
    ticks = [(at, m["data"]) for at, m in messages if m["type"] == "tick"]
    expected = []
    for symbol in SYMBOLS:
        for row in stored.history(symbol, start, end):
            moment = datetime.fromisoformat(row["time"].replace("Z", "+00:00"))
            expected.append((_ms(moment), symbol, row["seq"], row["price"], row["bid"], row["ask"]))
    expected.sort(key=lambda r: (r[0], r[1]))
    assert len(expected) == 2 * 6000
    got = [
        (t["timestamp"], t["ticker"], t["seq"], f"{t['price']:.2f}", f"{t['bid']:.2f}",
         f"{t['ask']:.2f}")
        for _, t in ticks
    ]  # fmt: skip
    assert got == expected
    done = messages[-1][1]
    assert done["type"] == "playback_done" and done["reason"] == "end"
    assert done["counts"] == {"SYNTH": 6000, "TECH": 6000}
    return ticks


def test_ten_minutes_at_speed_60_take_ten_seconds_and_equal_the_history(stored):
    end = stored.end - timedelta(minutes=1)
    start = end - timedelta(minutes=10)
    messages = asyncio.run(_play(stored, start, end, 60))
    ticks = _check_against_history(stored, start, end, messages)
    # Pacing: each tick read when its market time, divided by 60, says (from the first).
    first_at, first = ticks[0]
    span = ticks[-1][0] - first_at
    market = (ticks[-1][1]["timestamp"] - first["timestamp"]) / 1000 / 60
    assert market == pytest.approx(10, abs=0.01)
    assert span == pytest.approx(market, rel=0.05), span


def test_at_max_the_same_ticks_as_fast_as_the_client_reads(stored):
    end = stored.end - timedelta(minutes=1)
    start = end - timedelta(minutes=10)
    messages = asyncio.run(_play(stored, start, end, "max"))
    _check_against_history(stored, start, end, messages)
    # How fast "max" goes (and what it costs live clients) is bench playback's figure.


def test_alpaca_py_stock_data_stream_plays_the_stored_trades(stored):
    end = stored.end - timedelta(minutes=1)
    start = end - timedelta(minutes=1)
    query = urlencode({"start": _iso(start), "end": _iso(end), "speed": "max"})
    url = f"{stored.ws}/v2/playback?{query}"
    trades: list[Trade] = []
    got_all = threading.Event()

    async def on_trade(trade: Trade) -> None:
        trades.append(trade)
        if len(trades) == 600:
            got_all.set()

    stream = StockDataStream("key", "secret", url_override=url)
    stream.subscribe_trades(on_trade, "SYNTH")
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    try:
        assert got_all.wait(30), len(trades)
        time.sleep(1.0)  # the end status, then an open, idle connection: no replay
    finally:
        stream.stop()
        thread.join(15)
    assert not thread.is_alive()
    history = stored.history("SYNTH", start, end)
    assert [(t.id, t.price, t.size) for t in trades] == [
        (r["seq"], float(r["price"]), r["volume"]) for r in history
    ]
    assert trades[0].timestamp == datetime.fromisoformat(history[0]["time"].replace("Z", "+00:00"))


def test_massive_websocket_client_plays_the_stored_trades_and_stops(stored):
    end = stored.end - timedelta(minutes=1)
    start = end - timedelta(minutes=1)
    feed = f"127.0.0.1:{stored.stack.web_port}/playback/{_ms(start)}/{_ms(end)}/max"
    trades: list[EquityTrade] = []

    async def on_messages(messages) -> None:
        trades.extend(m for m in messages if isinstance(m, EquityTrade))

    client = WebSocketClient(api_key="key", feed=feed, market="stocks", secure=False)
    client.subscribe("T.SYNTH")
    # connect() returns only when the server closes normally: the end of the range.
    asyncio.run(asyncio.wait_for(client.connect(on_messages), 30))
    history = stored.history("SYNTH", start, end)
    assert len(trades) == 600
    assert [(t.sequence_number, t.price, t.size, t.timestamp) for t in trades] == [
        (
            r["seq"],
            float(r["price"]),
            r["volume"],
            _ms(datetime.fromisoformat(r["time"].replace("Z", "+00:00"))),
        )
        for r in history
    ]
