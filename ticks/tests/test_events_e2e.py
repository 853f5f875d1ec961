"""A halt event end to end: daphne, the celery generator, worker and beat as real processes. An
event created (through the service the admin calls, in another process) while a ``/ws`` client
and an Alpaca stream client are subscribed: both see the halt and the resumption in order with
the ticks, no tick inside the halt, consecutive seqs, the REST quote says halted meanwhile, and
the database stores nothing inside it."""

import asyncio
import json
import subprocess
import sys
import time
import urllib.request

import psycopg
import pytest
import websockets

from testsupport.live import live_market
from testsupport.stack import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
HALT_S = 3
# The halt starts a few seconds after it is created, so that it is still ahead when the
# creating process has exited, however loaded the machine (the test reads a quote inside it).
LEAD_S = 5
CREATE = (
    "from datetime import timedelta; from django.utils import timezone; "
    "from ticks.events import event_create; from ticks.models import Ticker; "
    "e = event_create(kind='halt', scope='ticker', ticker=Ticker.objects.get(symbol='SYNTH'), "
    f"start=timezone.now() + timedelta(seconds={LEAD_S}), "
    f"duration=timedelta(seconds={HALT_S}), reason='e2e halt'); "
    "print(int(e.start.timestamp() * 1000), int(e.end.timestamp() * 1000))"
)


@pytest.fixture
def live_stack():
    with live_market(symbols=("SYNTH",)) as market:
        yield market.stack, market.database_url


async def _ws_client(port: int, out: list, done: asyncio.Event) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await ws.send(json.dumps({"type": "subscribe", "tickers": ["SYNTH"]}))
        while not done.is_set():
            try:
                out.append(json.loads(await asyncio.wait_for(ws.recv(), 0.5)))
            except TimeoutError:
                continue


async def _alpaca_client(port: int, out: list, done: asyncio.Event) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/v2/iex") as ws:
        await ws.recv()  # connected
        await ws.send(json.dumps({"action": "auth", "key": "k", "secret": "s"}))
        await ws.recv()  # authenticated
        await ws.send(
            json.dumps({"action": "subscribe", "trades": ["SYNTH"], "statuses": ["SYNTH"]})
        )
        while not done.is_set():
            try:
                out.extend(json.loads(await asyncio.wait_for(ws.recv(), 0.5)))
            except TimeoutError:
                continue


def _quote(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/quote/SYNTH", timeout=5) as r:
        return json.loads(r.read())["data"]


def _iso_ms(text: str) -> int:
    from datetime import datetime

    head, frac = text.rstrip("Z").split(".")
    moment = datetime.fromisoformat(head + "+00:00")
    return int(moment.timestamp()) * 1000 + int(frac[:3].ljust(3, "0"))


def test_a_halt_through_the_real_processes(live_stack):
    stack, database_url = live_stack
    port = stack.web_port
    ws_msgs, alpaca_msgs = [], []

    async def run():
        done = asyncio.Event()
        clients = [
            asyncio.create_task(_ws_client(port, ws_msgs, done)),
            asyncio.create_task(_alpaca_client(port, alpaca_msgs, done)),
        ]
        await asyncio.sleep(1.5)  # subscribed, some ticks
        created = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "manage.py", "shell", "-c", CREATE],
            cwd=ROOT,
            env=stack.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        h0, h1 = map(int, created.stdout.split()[-2:])
        quote = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            now = time.time() * 1000
            if quote is None and h0 + 300 < now < h1 - 300:
                quote = await asyncio.to_thread(_quote, port)
            statuses = [m for m in alpaca_msgs if m.get("T") == "s"]
            trades_after = [m for m in ws_msgs if m.get("type") == "tick"
                            and m["data"]["timestamp"] > h1 + 500]  # fmt: skip
            if len(statuses) >= 2 and trades_after:
                break
        await asyncio.sleep(0.5)
        done.set()
        await asyncio.gather(*clients)
        return h0, h1, quote

    h0, h1, quote = asyncio.run(run())
    assert quote is not None and quote["status"] == "halted", quote

    # /ws: ticks, halted, trading, ticks; nothing inside; seq consecutive across
    events = [m for m in ws_msgs if m["type"] in ("tick", "status")]
    kinds = [(m["type"], m["data"].get("status")) for m in events]
    first_status = kinds.index(("status", "halted"))
    assert kinds[first_status + 1] == ("status", "trading"), kinds[first_status - 2 :][:6]
    halted, trading = events[first_status]["data"], events[first_status + 1]["data"]
    assert (halted["time"], halted["reason"], trading["time"]) == (h0, "e2e halt", h1)
    before, after = events[:first_status], events[first_status + 2 :]
    assert before and after
    assert all(m["data"]["timestamp"] < h0 for m in before)
    assert all(m["data"]["timestamp"] >= h1 for m in after)
    seqs = [m["data"]["seq"] for m in before + after]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))

    # the Alpaca stream: trades, "s" halted (H), "s" resumption (T), trades
    items = [m for m in alpaca_msgs if m.get("T") in ("t", "s")]
    codes = [(m["T"], m.get("sc")) for m in items]
    at = codes.index(("s", "H"))
    assert codes[at + 1] == ("s", "T")
    assert all(_iso_ms(m["t"]) < h0 for m in items[:at])
    assert all(_iso_ms(m["t"]) >= h1 for m in items[at + 2 :])

    # stored: nothing inside the halt
    def stored():
        with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as c:
            return c.execute(
                "SELECT count(*) FILTER (WHERE t.time >= to_timestamp(%s / 1000.0) AND "
                "t.time < to_timestamp(%s / 1000.0)), max(t.time) > to_timestamp(%s / 1000.0) "
                "FROM ticks_tick t JOIN ticks_ticker k ON k.id = t.ticker_id "
                "WHERE k.symbol = 'SYNTH'",
                (h0, h1, h1),
            ).fetchone()

    inside, flushed_past = stack.wait_for(
        lambda: (row := stored())[1] and row, timeout=30, what="the flush past the halt"
    )
    assert inside == 0
