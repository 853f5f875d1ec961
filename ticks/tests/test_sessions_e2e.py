"""Trading sessions end to end: daphne, the celery generator, worker and beat as real processes,
with the market clock moved (``MARKET_CLOCK_OFFSET_SECONDS``) to a little before the NYSE open
of 2026-12-01 (14:30 UTC), the moment the Bratislava exchange (XBRA, 15:30 in Bratislava)
closes. Three calendar tickers, set in the private database before the processes start:
SYNTH on XNYS (opens), FINANCE on XNYS with extended hours (pre-market, then open), TECH on XBRA
(closes); ENERGY and HEALTH stay 24/7. ``MARKET_CALENDAR=XNYS`` for the Alpaca clock.

One stack and one open, watched once by a ``/ws`` and an Alpaca stream client (module
fixture): generation starts at the open and stops at the close (ticks only inside), both
streams announce both, in order with the ticks, the clock flips ``is_open``, and the stored
ticks agree. (The default configuration, 24/7 everywhere and no session announced:
``test_session_announce``.)"""

import asyncio
import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import websockets

from testsupport.live import live_market
from testsupport.market_clock import offset_to

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OPEN = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
OPEN_MS = int(OPEN.timestamp() * 1000)
CLOSE = datetime(2026, 12, 1, 21, tzinfo=UTC)  # the NYSE's close that day
#: Market time when the processes start: this long before the open (they are up and the
#: clients subscribed well within it, even on a loaded machine).
LEAD_S = 25
AFTER_S = 3  # watched after the open
CALENDARS = {"SYNTH": ("XNYS", False), "FINANCE": ("XNYS", True), "TECH": ("XBRA", False)}
SYMBOLS = sorted(CALENDARS)


def _set_calendars(database_url: str) -> None:
    """As the admin would have (a ticker's calendar and extended hours), before any process
    runs."""
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as c:
        for symbol, (calendar, extended) in CALENDARS.items():
            c.execute(
                "UPDATE ticks_ticker SET calendar = %s, extended_hours = %s WHERE symbol = %s",
                (calendar, extended, symbol),
            )


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


def _iso_ms(text: str) -> int:
    head, _, frac = text.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(head + "+00:00")
    return int(moment.timestamp()) * 1000 + int(frac[:3].ljust(3, "0"))


async def _ws_client(port: int, out: list, done: asyncio.Event, ready: asyncio.Event) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await ws.send(json.dumps({"type": "subscribe", "tickers": SYMBOLS}))
        while not done.is_set():
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 0.3))
            except TimeoutError:
                continue
            out.append(message)
            if message["type"] == "subscribed":
                ready.set()


async def _alpaca_client(port: int, out: list, done: asyncio.Event, ready: asyncio.Event) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/v2/iex") as ws:
        await ws.recv()  # connected
        await ws.send(json.dumps({"action": "auth", "key": "k", "secret": "s"}))
        await ws.recv()  # authenticated
        await ws.send(json.dumps({"action": "subscribe", "trades": SYMBOLS, "statuses": SYMBOLS}))
        while not done.is_set():
            try:
                messages = json.loads(await asyncio.wait_for(ws.recv(), 0.3))
            except TimeoutError:
                continue
            out.extend(messages)
            if any(m.get("T") == "subscription" for m in messages):
                ready.set()


async def _watch(port: int, offset_s: float) -> dict:
    def market_now_ms() -> int:
        return int((time.time() + offset_s) * 1000)

    seen = {"ws": [], "alpaca": []}
    done = asyncio.Event()
    ready = [asyncio.Event(), asyncio.Event()]
    clients = [
        asyncio.create_task(_ws_client(port, seen["ws"], done, ready[0])),
        asyncio.create_task(_alpaca_client(port, seen["alpaca"], done, ready[1])),
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 30)
    seen["subscribed_at"] = market_now_ms()
    seen["clock_before"] = await asyncio.to_thread(_get, port, "/v2/clock")
    while market_now_ms() < OPEN_MS + AFTER_S * 1000:
        await asyncio.sleep(0.2)
    seen["clock_after"] = await asyncio.to_thread(_get, port, "/v2/clock")
    done.set()
    await asyncio.gather(*clients)
    return seen


@pytest.fixture(scope="module")
def seen():
    env = {"MARKET_CALENDAR": "XNYS"}

    def prepare(database_url: str) -> None:
        _set_calendars(database_url)
        env["MARKET_CLOCK_OFFSET_SECONDS"] = str(offset_to(OPEN - timedelta(seconds=LEAD_S)))

    with live_market(symbols=("ENERGY",), env=env, prepare=prepare) as market:
        offset = float(env["MARKET_CLOCK_OFFSET_SECONDS"])
        result = asyncio.run(_watch(market.web_port, offset))
        assert result["subscribed_at"] < OPEN_MS - 1000, "the stack came up after the open"

        def stored():
            with psycopg.connect(market.database_url.replace("postgres://", "postgresql://")) as c:
                return dict(
                    (row[0], row[1:])
                    for row in c.execute(
                        "SELECT k.symbol, count(*), min(t.time), max(t.time), min(t.seq) "
                        "FROM ticks_tick t JOIN ticks_ticker k ON k.id = t.ticker_id "
                        "GROUP BY k.symbol"
                    )
                )

        result["stored"] = market.stack.wait_for(
            lambda: (rows := stored()).get("SYNTH") and rows["SYNTH"][2] >= OPEN + timedelta(
                seconds=1) and rows, timeout=30, what="the flush past the open",
        )  # fmt: skip
    return result


def _ticks(seen: dict, symbol: str) -> list[dict]:
    return [m["data"] for m in seen["ws"] if m["type"] == "tick" and m["data"]["ticker"] == symbol]


def _ws_events(seen: dict, symbol: str) -> list[tuple]:
    """``("tick", time)`` and ``("status", status, time)`` of one ticker, in arrival order."""
    out = []
    for m in seen["ws"]:
        data = m.get("data") or {}
        if m["type"] in ("tick", "status") and data.get("ticker") == symbol:
            if m["type"] == "tick":
                out.append(("tick", data["timestamp"]))
            else:
                out.append(("status", data["status"], data["time"]))
    return out


def test_generation_starts_at_the_open_and_stops_at_the_close(seen):
    synth, tech, finance = (_ticks(seen, s) for s in ("SYNTH", "TECH", "FINANCE"))
    assert synth and synth[0]["timestamp"] == OPEN_MS and synth[0]["seq"] == 0
    assert len(synth) >= 10 * (AFTER_S - 1)
    assert tech and all(t["timestamp"] < OPEN_MS for t in tech)
    assert tech[-1]["timestamp"] == OPEN_MS - 100  # its last grid point before the close
    # with extended hours: the pre-market, then the regular session, without a pause
    times = [t["timestamp"] for t in finance]
    assert times[0] < OPEN_MS <= times[-1]
    assert times == list(range(times[0], times[-1] + 1, 100))
    for ticks in (synth, tech, finance):
        seqs = [t["seq"] for t in ticks]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_ws_announces_the_open_and_the_close_in_order_with_the_ticks(seen):
    synth, tech, finance = (_ws_events(seen, s) for s in ("SYNTH", "TECH", "FINANCE"))
    assert synth[0] == ("status", "open", OPEN_MS) and synth[1] == ("tick", OPEN_MS)
    assert [e for e in tech if e[0] == "status"] == [("status", "closed", OPEN_MS)]
    assert tech[-1] == ("status", "closed", OPEN_MS)  # after its last tick, nothing after it
    at = finance.index(("status", "open", OPEN_MS))
    assert [e for e in finance if e[0] == "status"] == [("status", "open", OPEN_MS)]
    assert all(e[1] < OPEN_MS for e in finance[:at]) and finance[at + 1] == ("tick", OPEN_MS)
    statuses = {m["data"]["ticker"]: m["data"] for m in seen["ws"] if m["type"] == "status"}
    assert statuses["SYNTH"]["reason"] == "market open"
    assert statuses["SYNTH"]["next_close"] == int(CLOSE.timestamp() * 1000)
    assert statuses["TECH"]["reason"] == "market closed"
    assert statuses["TECH"]["next_open"] > OPEN_MS  # XBRA's next session
    assert statuses["FINANCE"]["next_close"] == int((CLOSE + timedelta(hours=4)).timestamp() * 1000)


def test_the_alpaca_stream_announces_them_as_trading_statuses(seen):
    items = [m for m in seen["alpaca"] if m.get("T") in ("t", "s")]
    statuses = [
        (m["S"], m["sc"], m["rc"], m["rm"], _iso_ms(m["t"])) for m in items if m["T"] == "s"
    ]
    assert sorted(statuses) == [
        ("FINANCE", "T", "", "Market Open", OPEN_MS),
        ("SYNTH", "T", "", "Market Open", OPEN_MS),
        ("TECH", "H", "", "Market Closed", OPEN_MS),
    ]
    for symbol in SYMBOLS:
        own = [(m["T"], _iso_ms(m["t"])) for m in items if m["S"] == symbol]
        at = next(i for i, (kind, _) in enumerate(own) if kind == "s")
        assert all(t < OPEN_MS for _, t in own[:at]) and all(t >= OPEN_MS for _, t in own[at:])
    assert any(m["S"] == "SYNTH" and m["T"] == "t" for m in items)
    assert not [
        m for m in items if m["S"] == "TECH" and _iso_ms(m["t"]) >= OPEN_MS and m["T"] == "t"
    ]


def test_the_alpaca_clock_flips_is_open(seen):
    before, after = seen["clock_before"], seen["clock_after"]
    assert before["is_open"] is False and after["is_open"] is True
    assert _iso_ms(before["next_open"]) == OPEN_MS
    assert _iso_ms(after["next_close"]) == int(CLOSE.timestamp() * 1000)
    assert _iso_ms(before["timestamp"]) < OPEN_MS <= _iso_ms(after["timestamp"])


def test_only_ticks_inside_the_sessions_are_stored(seen):
    synth, tech = seen["stored"]["SYNTH"], seen["stored"]["TECH"]
    assert synth[1] == OPEN and synth[3] == 0  # from the open, seq 0
    assert tech[2] == OPEN - timedelta(milliseconds=100)  # nothing at or after the close
    energy = seen["stored"]["ENERGY"]  # a 24/7 ticker beside them trades on
    assert energy[1] < OPEN - timedelta(seconds=5) and energy[2] > OPEN
