"""``/playback/<start>/<end>/<speed>/stocks``, the Massive playback feed, through
``config.asgi.application``: the live stream's handshake and subscribe, the stored range as
trades, quotes and closing minute aggregates in the live shapes, the end status and a normal
close, bad ranges, and the per-process limit. (End to end with the ``massive`` client's
``WebSocketClient``: test_playback_e2e.py.)"""

from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from channels.testing import WebsocketCommunicator

from ticks.engine.sizes import quote_sizes
from ticks.models import Ticker

from .conftest import asynctest
from .massive_helpers import AUTHENTICATED, CONNECTED, MassiveClient, subscribed
from .playback_helpers import minute_ago, ms, store_range

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def stored(market):
    start = minute_ago() - timedelta(minutes=3)
    rows = store_range(["SYNTH", "TECH"], start=start, seconds=180)
    return ms(start), rows


def feed(start, end, speed="max") -> str:
    return f"/playback/{start}/{end}/{speed}/stocks"


@asynccontextmanager
async def playback(path: str, *, auth: bool = True):
    from config.asgi import application

    ws = WebsocketCommunicator(application, path)
    assert (await ws.connect())[0]
    client = MassiveClient(ws)
    try:
        assert await client.recv() == CONNECTED
        if auth:
            assert await client.auth() == AUTHENTICATED
        yield client
    finally:
        await ws.disconnect()


async def until_close(client) -> tuple[list, tuple]:
    out = []
    while True:
        frame = await client.recv()
        if isinstance(frame, tuple):
            return out, frame
        out += frame


@asynctest
async def test_the_range_as_trades_quotes_and_aggregates_then_a_normal_close(stored):
    start, rows = stored
    async with playback(feed(start, start + 120_000)) as client:
        assert await client.subscribe("T.SYNTH,Q.SYNTH,AM.SYNTH") == subscribed(
            "T.SYNTH", "Q.SYNTH", "AM.SYNTH"
        )
        messages, close = await until_close(client)
    assert close == ("close", 1000)
    trades = [m for m in messages if m["ev"] == "T"]
    quotes = [m for m in messages if m["ev"] == "Q"]
    minutes = [m for m in messages if m["ev"] == "AM"]
    expected = [r for r in rows["SYNTH"] if r[0] < start + 120_000]
    assert [(m["t"], m["q"], round(m["p"] * 100)) for m in trades] == expected
    assert trades[0] == {
        "ev": "T", "sym": "SYNTH", "x": trades[0]["x"], "i": "0", "z": trades[0]["z"],
        "p": 100.0, "s": 10, "c": trades[0]["c"], "t": start, "q": 0,
    }  # fmt: skip
    seed = await Ticker.objects.aget(symbol="SYNTH")
    bid, ask = quote_sizes(seed.seed, np.array([0]))
    assert quotes[0]["bs"] == int(bid[0]) and quotes[0]["as"] == int(ask[0])
    assert quotes[0]["bp"] == 99.95 and quotes[0]["ap"] == 100.05
    assert len(quotes) == 120 and all(m["sym"] == "SYNTH" for m in messages if "sym" in m)
    assert [(m["s"], m["e"], m["o"]) for m in minutes] == [
        (start, start + 60_000, 100.0),
        (start + 60_000, start + 120_000, 100.6),
    ]
    assert "av" not in minutes[0]
    assert messages[-1] == {
        "ev": "status",
        "status": "success",
        "message": "playback complete: 120 trades, 2 minute aggregates",
    }


@asynctest
async def test_iso_times_the_wildcard_and_only_the_channels_subscribed(stored):
    start, _ = stored
    first = datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    last = datetime.fromtimestamp((start + 2000) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with playback(feed(first, last, 1000), auth=False) as client:
        assert await client.auth() == AUTHENTICATED
        assert await client.subscribe("T.*") == subscribed("T.*")
        messages, close = await until_close(client)
    assert close == ("close", 1000)
    assert [(m["sym"], m["q"]) for m in messages if m["ev"] == "T"] == [
        ("SYNTH", 0), ("TECH", 0), ("SYNTH", 1), ("TECH", 1),
    ]  # fmt: skip
    assert {m["ev"] for m in messages} == {"T", "status"}


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/playback/x/2/1/stocks", "bad_time"),
        ("/playback/2000/1000/1/stocks", "bad_time"),
        ("/playback/1000/2000/0/stocks", "bad_speed"),
        ("/playback/1000/2000/fast/stocks", "bad_speed"),
        ("/playback/1000/2000/max/stocks", "range_unavailable"),
    ],
)
@asynctest
async def test_a_bad_range_is_an_error_status_and_a_close(stored, path, reason):
    async with playback(path, auth=False) as client:
        error = await client.recv()
        assert error[0]["ev"] == "status" and error[0]["status"] == "error"
        assert error[0]["message"].startswith("invalid playback: ")
        assert f"({reason})" in error[0]["message"]
        assert await client.recv() == ("close", 4008)


@asynctest
async def test_playbacks_are_limited_error_and_closed(stored, settings):
    start, _ = stored
    settings.PLAYBACK_MAX_PER_PROCESS = 1
    async with playback(feed(start, start + 60_000, speed=1)) as first:
        await first.subscribe("T.SYNTH")
        assert (await first.recv())[0]["ev"] == "T"
        async with playback(feed(start, start + 60_000, speed=1)) as second:
            assert await second.subscribe("T.SYNTH") == subscribed("T.SYNTH")
            error = await second.recv()
            assert error[0]["status"] == "error"
            assert error[0]["message"].startswith("playback limit exceeded")
            assert await second.recv() == ("close", 4008)
