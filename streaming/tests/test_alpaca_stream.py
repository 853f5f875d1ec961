"""``/v2/{feed}``, the Alpaca stream dialect, through ``config.asgi.application``: connect,
authentication, every error code, subscriptions, trades and quotes, minute/updated/daily bars,
trading statuses, FAKEPACA, msgpack and JSON, limits. (End to end with alpaca-py:
test_alpaca_stream_e2e.py.)"""

from datetime import UTC, datetime
from decimal import Decimal

import msgpack
import pytest

from streaming.hub import get_hub
from streaming.publish import apublish, status_messages
from ticks.alpaca_shapes import rfc3339_ns
from ticks.engine.sizes import quote_sizes
from ticks.models import Ticker
from ticks.payloads import BarPayload

from .alpaca_helpers import AUTHENTICATED, alpaca, error
from .conftest import asynctest, bar, tick

pytestmark = pytest.mark.django_db

EMPTY = {
    "T": "subscription",
    "trades": [],
    "quotes": [],
    "bars": [],
    "updatedBars": [],
    "dailyBars": [],
    "statuses": [],
    "lulds": [],
    "corrections": [],
    "cancelErrors": [],
}


def seed_of(symbol: str) -> int:
    return Ticker.objects.get(symbol=symbol).seed


# --- connect, auth, subscriptions ----------------------------------------------------------------


@asynctest
async def test_connect_auth_and_subscribe_in_json(market):
    async with alpaca(auth=False) as client:
        assert await client.auth() == AUTHENTICATED  # keys not required: any credentials
        reply = await client.subscribe(trades=["SYNTH"], quotes=["TECH", "SYNTH"], bars="*")
        assert reply == [
            {**EMPTY, "trades": ["SYNTH"], "quotes": ["TECH", "SYNTH"], "bars": ["*"]}
            | {"corrections": ["SYNTH"], "cancelErrors": ["SYNTH"]}
        ]
        await client.send({"action": "subscribe", "dailyBars": ["SYNTH"], "trades": ["TECH"]})
        reply = await client.recv()
        assert reply[0]["trades"] == ["SYNTH", "TECH"] and reply[0]["dailyBars"] == ["SYNTH"]
        await client.send({"action": "unsubscribe", "trades": ["SYNTH"], "bars": ["*"]})
        reply = await client.recv()
        assert reply[0]["trades"] == ["TECH"] and reply[0]["bars"] == []
        assert reply[0]["corrections"] == ["TECH"]


@asynctest
async def test_msgpack_when_the_handshake_asks_for_it(market):
    async with alpaca(packed=True) as client:  # CONNECTED and AUTHENTICATED came packed
        reply = await client.subscribe(trades=["SYNTH"])
        assert reply[0]["T"] == "subscription" and reply[0]["trades"] == ["SYNTH"]


@asynctest
async def test_header_authentication(market):
    headers = [(b"apca-api-key-id", b"k"), (b"apca-api-secret-key", b"s")]
    async with alpaca(headers=headers, auth=False) as client:
        assert await client.recv() == AUTHENTICATED
        assert await client.auth() == error(403, "already authenticated")


@asynctest
async def test_errors_before_and_after_auth(market):
    async with alpaca(auth=False) as client:
        assert await client.subscribe(trades=["SYNTH"]) == error(401, "not authenticated")
        await client.ws.send_to(text_data="{not json")
        assert await client.recv() == error(400, "invalid syntax")
        await client.ws.send_to(bytes_data=b"\xc1\xff")  # neither msgpack nor JSON
        assert await client.recv() == error(400, "invalid syntax")
        for bad in ([1, 2], {"action": "dance"}, {"no": "action"}):
            await client.send(bad)
            assert await client.recv() == error(400, "invalid syntax")
        assert await client.auth() == AUTHENTICATED
        assert await client.auth() == error(403, "already authenticated")
        assert await client.subscribe(orderbooks=["SYNTH"]) == error(
            410, "invalid subscribe action for this feed"
        )
        for bad in (
            {"trades": [1]},
            {"trades": {"a": 1}},
            {"sometimes": ["SYNTH"]},
            {"bars": [""]},
        ):
            assert await client.subscribe(**bad) == error(400, "invalid syntax")
        assert await client.subscribe(trades=["SYNTH"]) == [
            {**EMPTY, "trades": ["SYNTH"], "corrections": ["SYNTH"], "cancelErrors": ["SYNTH"]}
        ]  # nothing changed by the errors


@asynctest
async def test_auth_timeout_closes(market, settings):
    settings.ALPACA_STREAM_AUTH_TIMEOUT_S = 0.2
    async with alpaca(auth=False) as client:
        assert await client.recv() == error(404, "auth timeout")
        assert await client.recv() == ("close", 4008)


@asynctest
async def test_symbol_limit(market, settings):
    settings.WS_MAX_SUBSCRIPTIONS = 3
    async with alpaca() as client:
        await client.subscribe(trades=["SYNTH", "TECH"], quotes=["SYNTH"])
        assert await client.subscribe(bars=["ENERGY", "HEALTH"]) == error(
            405, "symbol limit exceeded"
        )
        assert (await client.subscribe(bars=["ENERGY"]))[0]["bars"] == ["ENERGY"]


@asynctest
async def test_a_message_over_32_kib_is_accepted_and_one_over_256_kib_is_not(market, settings):
    settings.WS_MAX_SUBSCRIPTIONS = 100_000
    many = [f"S{i:07d}" for i in range(5000)]
    async with alpaca(packed=True) as client:
        assert len(msgpack.packb({"action": "subscribe", "trades": many})) > 32 * 1024
        reply = await client.subscribe(trades=many)
        assert len(reply[0]["trades"]) == 5000
        huge = [f"S{i:07d}" for i in range(40_000)]
        assert await client.subscribe(quotes=huge) == error(400, "invalid syntax")


@asynctest
async def test_an_unexpected_failure_is_a_500_and_the_connection_stays(market, monkeypatch):
    async def boom(self, request):
        raise RuntimeError("bug")

    monkeypatch.setattr("streaming.alpaca.session.AlpacaSession.subscribe", boom)
    async with alpaca() as client:
        assert await client.subscribe(trades=["SYNTH"]) == error(500, "internal error")
        await client.send({"action": "unsubscribe", "trades": ["SYNTH"]})
        assert (await client.recv())[0]["T"] == "subscription"


# --- data -----------------------------------------------------------------------------------------


@asynctest
async def test_trades_and_quotes_per_tick_in_one_array_json(market):
    seed = await _seed("SYNTH")
    async with alpaca() as client:
        await client.subscribe(trades=["SYNTH"], quotes=["SYNTH"])
        t1, t2, other = tick("SYNTH", 1), tick("SYNTH", 2), tick("TECH", 1)
        await market.publish(t1, t2, other)
        batch = await client.recv()
        bids, asks = quote_sizes(seed, [1, 2])
        assert batch == [
            _trade("SYNTH", t1, rfc3339_ns(t1["timestamp"])),
            _quote("SYNTH", t1, rfc3339_ns(t1["timestamp"]), int(bids[0]), int(asks[0])),
            _trade("SYNTH", t2, rfc3339_ns(t2["timestamp"])),
            _quote("SYNTH", t2, rfc3339_ns(t2["timestamp"]), int(bids[1]), int(asks[1])),
        ]
        assert await client.nothing()


@asynctest
async def test_msgpack_times_are_timestamps_and_sessions_share_frames(market):
    async with alpaca(packed=True) as a, alpaca(packed=True) as b, alpaca() as c:
        for client in (a, b, c):
            await client.subscribe(trades=["*"])
        t1 = tick("TECH", 7)
        await market.publish(t1)
        got_a, got_b, got_c = await a.recv(), await b.recv(), await c.recv()
        assert got_a == got_b
        (trade,) = got_a
        assert isinstance(trade["t"], msgpack.Timestamp)
        assert trade["t"].to_unix_nano() == t1["timestamp"] * 1_000_000
        assert got_c[0]["t"] == rfc3339_ns(t1["timestamp"])
        assert {k: v for k, v in trade.items() if k != "t"} == {
            k: v for k, v in got_c[0].items() if k != "t"
        }


@asynctest
async def test_fakepaca_on_the_test_feed(market, settings):
    settings.ALPACA_FAKEPACA_TICKER = "SYNTH"
    async with alpaca("/v2/test") as test, alpaca("/v2/iex") as iex:
        await test.subscribe(trades=["FAKEPACA"])
        await iex.subscribe(trades=["FAKEPACA", "TECH"])
        await market.publish(tick("SYNTH", 3))
        (trade,) = await test.recv()
        assert (trade["T"], trade["S"], trade["i"]) == ("t", "FAKEPACA", 3)
        assert await iex.nothing()


@asynctest
async def test_minute_bars_close_update_and_daily(market, monkeypatch):
    day = datetime(2027, 1, 15, tzinfo=UTC)
    m0 = int(day.timestamp() * 1000) + 600_000
    daily = BarPayload(
        "SYNTH", "1d", int(day.timestamp() * 1000), *[Decimal("100.00")] * 4, 999, 50, Decimal(100)
    )
    monkeypatch.setattr("streaming.alpaca.fanout.daily_bars", lambda at, symbols: [daily])
    async with alpaca() as client:
        await client.subscribe(bars=["SYNTH"], updatedBars=["SYNTH"], dailyBars=["SYNTH"])
        await market.publish_bars(bar("SYNTH", m0, 101.0))  # first sight: tracked, not sent
        await market.publish_bars(bar("SYNTH", m0, 102.0))  # the open bar changes
        assert await client.nothing()
        await market.publish_bars(bar("SYNTH", m0, 102.5), bar("SYNTH", m0 + 60_000, 103.0))
        closed = await client.recv()
        assert closed == [
            {
                "T": "b",
                "S": "SYNTH",
                "t": rfc3339_ns(m0),
                "o": 100.0,
                "h": 102.5,
                "l": 100.0,
                "c": 102.5,
                "v": 10,
                "n": 3,
                "vw": 100.5,
            }
        ]
        (d,) = await client.recv()
        assert (d["T"], d["S"], d["t"], d["v"], d["n"]) == (
            "d",
            "SYNTH",
            rfc3339_ns(daily.time_ms),
            999,
            50,
        )
        await market.publish_bars(
            bar("SYNTH", m0, 102.5, volume=11), bar("SYNTH", m0 + 60_000, 103.0)
        )
        (u,) = await client.recv()
        assert (u["T"], u["t"], u["v"]) == ("u", rfc3339_ns(m0), 11)
        assert await client.nothing()


@asynctest
async def test_trading_status_messages(market):
    async with alpaca(packed=True) as client:
        await client.subscribe(statuses=["*"])
        await apublish(
            status_messages([{"ticker": "TECH", "status": "halted", "time": 1_800_000_000_000}])
        )
        ((status,),) = [await client.recv()]
        assert status["T"] == "s" and status["S"] == "TECH"
        assert {k: status[k] for k in ("sc", "sm", "rc", "z")} == {
            "sc": "H",
            "sm": "Trading Halt",
            "rc": "O1",
            "z": "C",
        }
        assert status["t"].to_unix_nano() == 1_800_000_000_000 * 1_000_000


@asynctest
async def test_session_status_messages(market):
    """A calendar ticker's close and open (``ticks.session_announce``): H and T without a
    reason code, the change in words."""
    async with alpaca() as client:
        await client.subscribe(statuses=["TECH"])
        closed = {"ticker": "TECH", "status": "closed", "reason": "market closed",
                  "time": 1_800_000_000_000, "next_open": 1_800_060_000_000, "next_close": None}  # fmt: skip
        opened = {**closed, "status": "open", "time": 1_800_060_000_000}
        await apublish(status_messages([closed]))
        await apublish(status_messages([opened]))
        got = [(await client.recv())[0], (await client.recv())[0]]
    assert [{k: m[k] for k in ("T", "S", "sc", "sm", "rc", "rm", "z")} for m in got] == [
        {"T": "s", "S": "TECH", "sc": "H", "sm": "Trading Halt", "rc": "", "rm": "Market Closed",
         "z": "C"},
        {"T": "s", "S": "TECH", "sc": "T", "sm": "Trading Resumption", "rc": "",
         "rm": "Market Open", "z": "C"},
    ]  # fmt: skip
    assert [m["t"] for m in got] == [rfc3339_ns(1_800_000_000_000), rfc3339_ns(1_800_060_000_000)]


@asynctest
async def test_a_slow_client_gets_407_and_is_closed(market, settings):
    settings.WS_SEND_QUEUE_LIMIT = 3
    async with alpaca() as client:
        await client.subscribe(trades=["SYNTH"])
        hub = get_hub()
        for s in range(1, 10):  # at once: the writer has no chance to run in between
            hub.dispatch({"type": "market.ticks", "ticks": [tick("SYNTH", s)]})
        assert await client.recv() == error(407, "slow client")
        assert await client.recv() == ("close", 4008)


# --- helpers ----------------------------------------------------------------------------------------


async def _seed(symbol: str) -> int:
    from asgiref.sync import sync_to_async

    return await sync_to_async(seed_of)(symbol)


def _trade(symbol, t, when):
    return {
        "T": "t",
        "S": symbol,
        "t": when,
        "x": "E",
        "p": t["price"],
        "s": t["volume"],
        "c": ["@"],
        "i": t["seq"],
        "z": "C",
    }


def _quote(symbol, t, when, bid_size, ask_size):
    return {
        "T": "q",
        "S": symbol,
        "t": when,
        "ax": "E",
        "ap": t["ask"],
        "as": ask_size,
        "bx": "E",
        "bp": t["bid"],
        "bs": bid_size,
        "c": ["R"],
        "z": "C",
    }
