"""``/v2/playback``, the Alpaca playback feed, through ``config.asgi.application``: the live
feed's handshake and subscribe, the stored range as trades, quotes and closing minute bars in the
live shapes (msgpack and JSON), the end status with the connection left open, bad ranges, and the
per-key limit. (End to end with alpaca-py's ``StockDataStream``: test_playback_e2e.py.)"""

import json
from datetime import timedelta
from urllib.parse import urlencode

import msgpack
import numpy as np
import pytest
from channels.testing import WebsocketCommunicator

from ticks.alpaca_shapes import rfc3339_ns
from ticks.engine.sizes import quote_sizes
from ticks.models import Ticker

from .alpaca_helpers import AUTHENTICATED, CONNECTED, alpaca
from .conftest import asynctest
from .playback_helpers import minute_ago, ms, store_range

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def stored(market):
    start = minute_ago() - timedelta(minutes=3)
    rows = store_range(["SYNTH", "TECH"], start=start, seconds=180)
    return ms(start), rows


def feed(start, end, speed="max") -> str:
    return "/v2/playback?" + urlencode({"start": start, "end": end, "speed": speed})


async def until_complete(client) -> list:
    out = []
    while True:
        frame = await client.recv()
        assert frame != ("close", 4008) and not isinstance(frame, tuple), frame
        out += frame
        if frame[-1].get("msg") == "playback complete":
            return out


@pytest.mark.parametrize("packed", [False, True])
@asynctest
async def test_the_range_as_trades_quotes_and_bars_then_complete_and_open(stored, packed):
    start, rows = stored
    async with alpaca(feed(start, start + 120_000), packed=packed) as client:
        reply = await client.subscribe(trades=["SYNTH"], quotes=["SYNTH"], bars=["SYNTH"])
        assert reply[0]["T"] == "subscription" and reply[0]["trades"] == ["SYNTH"]
        messages = await until_complete(client)
        assert await client.nothing(timeout=0.3)  # idle, not closed
    trades = [m for m in messages if m["T"] == "t"]
    quotes = [m for m in messages if m["T"] == "q"]
    bars = [m for m in messages if m["T"] == "b"]
    expected = [r for r in rows["SYNTH"] if r[0] < start + 120_000]
    assert [(m["i"], round(m["p"] * 100)) for m in trades] == [(s, c) for _, s, c in expected]
    first = trades[0]
    if packed:
        assert first["t"].to_unix_nano() == expected[0][0] * 1_000_000
    else:
        assert first["t"] == rfc3339_ns(expected[0][0])
    assert first == {
        "T": "t", "S": "SYNTH", "t": first["t"], "x": "E", "p": 100.0, "s": 10, "c": ["@"],
        "i": 0, "z": "C",
    }  # fmt: skip
    seed = await Ticker.objects.aget(symbol="SYNTH")
    bid, ask = quote_sizes(seed.seed, np.array([0]))
    assert quotes[0]["bs"] == int(bid[0]) and quotes[0]["as"] == int(ask[0])
    assert len(quotes) == 120 and all(m["S"] == "SYNTH" for m in messages if "S" in m)
    assert [b["n"] for b in bars] == [60, 60]
    assert messages[-1] == {"T": "success", "msg": "playback complete", "trades": 120, "bars": 2}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("/v2/playback", "bad_time"),
        ("/v2/playback?start=1&end=2", "bad_speed"),
        ("/v2/playback?start=x&end=2&speed=1", "bad_time"),
        ("/v2/playback?start=2000&end=1000&speed=1", "bad_time"),
        ("/v2/playback?start=1000&end=2000&speed=0", "bad_speed"),
        ("/v2/playback?start=1000&end=2000&speed=max", "range_unavailable"),
    ],
)
@asynctest
async def test_a_bad_range_is_an_error_and_a_close(stored, query, reason):
    client = WebsocketCommunicator(application(), query)
    assert (await client.connect())[0]
    try:
        assert json.loads((await client.receive_output(2))["text"]) == CONNECTED
        error = json.loads((await client.receive_output(2))["text"])
        assert error[0]["T"] == "error" and error[0]["code"] == 400
        assert error[0]["msg"].startswith("invalid playback: ") and reason in error[0]["msg"]
        assert (await client.receive_output(2)) == {"type": "websocket.close", "code": 4008}
    finally:
        await client.disconnect()


@asynctest
async def test_playbacks_are_limited_406_and_closed(stored, settings):
    start, _ = stored
    settings.PLAYBACK_MAX_PER_PROCESS = 1
    async with alpaca(feed(start, start + 60_000, speed=1)) as first:
        await first.subscribe(trades=["SYNTH"])
        assert (await first.recv())[0]["T"] == "t"
        async with alpaca(feed(start, start + 60_000, speed=1)) as second:
            await second.send({"action": "subscribe", "trades": ["SYNTH"]})
            assert (await second.recv())[0]["T"] == "subscription"
            error = await second.recv()
            assert error[0]["code"] == 406
            assert error[0]["msg"].startswith("playback limit exceeded")
            assert await second.recv() == ("close", 4008)


@asynctest
async def test_msgpack_handshake_auth_and_the_wildcard_as_live(stored):
    start, _ = stored
    async with alpaca(feed(start, start + 1000), packed=True, auth=False) as client:
        assert await client.auth() == AUTHENTICATED
        await client.subscribe(trades=["*"])
        messages = await until_complete(client)
    assert [(m["S"], m["i"]) for m in messages if m["T"] == "t"] == [("SYNTH", 0), ("TECH", 0)]
    assert isinstance(messages[0]["t"], msgpack.Timestamp)


def application():
    from config.asgi import application

    return application
