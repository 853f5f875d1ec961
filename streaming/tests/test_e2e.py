"""``/ws`` end to end: daphne, the celery generator, worker and beat as real processes (on their
own database, Redis key prefix and channel-layer prefix), and real ``websockets`` clients.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
import time

import pytest
import redis
import websockets

from testsupport.live import live_market
from testsupport.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SYMBOLS = ("ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH")

# The first version's documented WebSocket client, exactly as published (only its URL is pointed at the
# server under test).
SEED_CLIENT = """
import asyncio
import websockets
import json

async def connect():
    async with websockets.connect('ws://localhost:3000/ws') as websocket:
        # Receive welcome message
        message = await websocket.recv()
        print(f"Connected: {message}")

        # Subscribe to tickers
        await websocket.send(json.dumps({
            "type": "subscribe",
            "tickers": ["SYNTH", "TECH"]
        }))

        # Receive real-time ticks
        async for message in websocket:
            data = json.loads(message)
            print(f"Received: {data}")

asyncio.run(connect())
"""


class LiveStack:
    def __init__(self, stack: Stack, redis_url: str) -> None:
        self.stack = stack
        self.url = f"ws://127.0.0.1:{stack.web_port}/ws"
        self.r = redis.Redis.from_url(redis_url)

    def replay(self, symbol: str) -> list[dict]:
        key = f"{self.stack.redis_prefix}:replay:{symbol}"
        return [json.loads(f[b"d"]) for _, f in self.r.xrange(key)]

    def quoted(self) -> bool:
        return all(self.r.hexists(f"{self.stack.redis_prefix}:quotes", s) for s in SYMBOLS)


@pytest.fixture(scope="module")
def live():
    """One running service for the module (testsupport.live): migrated private database,
    generator, worker, beat and daphne; stopped, and its database and Redis keys removed,
    however tests end."""
    from django.conf import settings

    with live_market(symbols=SYMBOLS) as market:
        yield LiveStack(market.stack, settings.REDIS_URL)


def assert_consecutive(ticks: list[dict]) -> None:
    """Per ticker: seq +1 each time, time on the 100 ms grid, nothing missing or repeated."""
    by_symbol: dict[str, list[dict]] = {}
    for t in ticks:
        by_symbol.setdefault(t["ticker"], []).append(t)
    for symbol, own in by_symbol.items():
        seq = [t["seq"] for t in own]
        assert seq == list(range(seq[0], seq[0] + len(seq))), (symbol, seq)
        times = [t["timestamp"] for t in own]
        assert all(b - a == 100 for a, b in zip(times, times[1:])), (symbol, times)


async def collect(ws, seconds: float, *, until=None) -> list[dict]:
    out = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        out.append(message)
        if until is not None and until(out):
            break
    return out


def ticks_of(messages) -> list[dict]:
    out = []
    for m in messages:
        if m["type"] == "tick":
            out.append(m["data"])
        elif m["type"] == "ticks":
            out += m["data"]
    return out


def test_the_seed_readme_client_prints_ticks_for_synth_and_tech(live):
    script = SEED_CLIENT.replace("ws://localhost:3000/ws", live.url)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines, seen = [], set()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and seen != {"SYNTH", "TECH"}:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"'type': 'tick', 'data': \{'ticker': '(\w+)'", line)
            if found:
                seen.add(found.group(1))
    finally:
        proc.kill()
        proc.wait(10)
    assert lines[0].startswith("Connected: ") and '"type":"connected"' in lines[0]
    assert lines[1].startswith("Received: {'type': 'subscribed'")
    assert seen == {"SYNTH", "TECH"}, "".join(lines)


def test_ten_seconds_of_ticks_in_order_none_missing_and_bars_in_batch_mode(live):
    async def scenario():
        async with (
            websockets.connect(live.url) as ticks_ws,
            websockets.connect(live.url) as batch_ws,
        ):
            await ticks_ws.recv()
            await batch_ws.recv()
            await ticks_ws.send(json.dumps({"type": "subscribe", "tickers": list(SYMBOLS)}))
            await batch_ws.send(
                json.dumps(
                    {
                        "type": "subscribe",
                        "tickers": "*",
                        "batch": True,
                        "channels": ["ticks", "bars"],
                    }
                )
            )
            return await asyncio.gather(collect(ticks_ws, 10), collect(batch_ws, 10))

    per_tick, batched = asyncio.run(scenario())
    assert per_tick[0]["type"] == "subscribed"
    ticks = ticks_of(per_tick[1:])
    assert {m["type"] for m in per_tick[1:]} == {"tick"}
    assert_consecutive(ticks)
    for symbol in SYMBOLS:
        own = [t for t in ticks if t["ticker"] == symbol]
        assert len(own) >= 90, (symbol, len(own))
        # Exactly what the generator committed over that stretch, none missing.
        stream = [
            t
            for t in live.replay(symbol)
            if own[0]["timestamp"] <= t["timestamp"] <= own[-1]["timestamp"]
        ]
        assert own == stream
    assert batched[0]["type"] == "subscribed"
    assert {m["type"] for m in batched[1:]} == {"ticks", "bar"}
    assert_consecutive(ticks_of(batched[1:]))
    bars = [m["data"] for m in batched if m["type"] == "bar"]
    assert {b["ticker"] for b in bars} == set(SYMBOLS)
    assert set(bars[0]) == {
        "ticker",
        "timeframe",
        "time",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "trade_count",
        "vwap",
    }
    assert all(b["timeframe"] == "1m" and b["time"] % 60_000 == 0 for b in bars)


def test_resume_after_three_seconds_away_has_no_gap_and_no_duplicate(live):
    def whole_cycle(messages) -> bool:
        """Stop right after a cycle: every ticker's newest tick has the same time."""
        ticks = ticks_of(messages)
        if len(ticks) < 50:
            return False
        last = {t["ticker"]: t["timestamp"] for t in ticks}
        return len(last) == len(SYMBOLS) and len(set(last.values())) == 1

    async def scenario():
        async with websockets.connect(live.url) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "subscribe", "tickers": list(SYMBOLS)}))
            before = await collect(ws, 10, until=whole_cycle)
        await asyncio.sleep(3)
        since = ticks_of(before)[-1]["timestamp"]
        async with websockets.connect(live.url) as ws:
            await ws.recv()
            await ws.send(
                json.dumps({"type": "subscribe", "tickers": list(SYMBOLS), "since": since})
            )
            after = await collect(ws, 2)
        return before, after

    before, after = asyncio.run(scenario())
    assert after[0]["type"] == "subscribed"
    first, second = ticks_of(before), ticks_of(after)
    assert_consecutive(first + second)
    assert len(second) >= 5 * 40  # the 3 s away, replayed, and 2 s more live


def test_an_oversized_message_gets_our_error_through_daphne_and_the_connection_stays(live):
    """1.1 MB is over daphne's default frame limit (1 MiB, which closes with 1006 and no word):
    daphne runs with 4 MiB, so the application sees it and answers message_too_large."""

    async def scenario():
        async with websockets.connect(live.url, max_size=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "ping", "pad": "x" * 1_100_000}))
            error = json.loads(await asyncio.wait_for(ws.recv(), 10))
            await ws.send(json.dumps({"type": "ping"}))
            pong = json.loads(await asyncio.wait_for(ws.recv(), 10))
            return error, pong

    error, pong = asyncio.run(scenario())
    assert error["type"] == "error" and error["code"] == "message_too_large"
    assert "exceeds the limit of 8192 bytes" in error["message"]
    assert pong["type"] == "pong"


def test_a_client_that_stops_reading_is_cut_off_and_the_others_keep_their_latency(live):
    async def scenario():
        # max_queue: the client library stops reading the socket after 4 frames; no keepalive
        # pings of its own. So it answers none of daphne's pings either.
        stalled = await websockets.connect(live.url, max_queue=4, ping_interval=None)
        try:
            await stalled.send(json.dumps({"type": "subscribe", "tickers": list(SYMBOLS)}))
            stalled_at = time.time() * 1000
            async with websockets.connect(live.url) as reader:
                await reader.recv()
                await reader.send(json.dumps({"type": "subscribe", "tickers": list(SYMBOLS)}))
                await reader.recv()  # subscribed
                arrivals = []
                deadline = time.monotonic() + 25  # daphne pings after 5 s, waits 10 s more
                while time.monotonic() < deadline:
                    message = json.loads(await reader.recv())
                    arrivals.append((time.time() * 1000, message))
            # Now read what the stalled client was sent: the server has closed it.
            drained = []
            try:
                async with asyncio.timeout(10):
                    async for message in stalled:
                        drained.append(json.loads(message))
            except websockets.ConnectionClosed:
                pass
            return stalled_at, arrivals, ticks_of(drained), stalled.state
        finally:
            await stalled.close()

    stalled_at, arrivals, drained, state = asyncio.run(scenario())
    assert state is websockets.State.CLOSED  # (a TimeoutError above: it was still being fed)
    # Cut off within about 15 s (ping interval 5 s, checked every 2 s, then 10 s for a pong).
    assert drained and drained[-1]["timestamp"] - stalled_at < 20_000
    ticks = ticks_of([m for _, m in arrivals])
    assert len(ticks) >= 5 * 230
    assert_consecutive(ticks)
    # The other client on time throughout: received within a second of the tick's grid time
    # (generation runs every 100 ms, so ticks are up to ~100 ms old when published).
    lags = sorted(at - m["data"]["timestamp"] for at, m in arrivals if m["type"] == "tick")
    assert lags[int(len(lags) * 0.99)] < 1_000, lags[-10:]
