"""``/ws`` playback through ``config.asgi.application`` with ``WebsocketCommunicator``: a stored
range played back in time order with its original times and seqs, the bars that close on the
way, pause/resume/stop, every refused request (and that it changes nothing), the limits, and
that a connection playing back cannot reach any other connection.

The ranges are stored in the real PostgreSQL (``transaction=True``: the playback reads them from
its own threads); the channel layer is in memory."""

from datetime import timedelta

import pytest

from streaming.protocol import ErrorCode

from .conftest import asynctest, receive_all, subscribe, tick, ws
from .playback_helpers import minute_ago, ms, store_range
from .ws_helpers import expect_error, usable

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def stored(market):
    """Three minutes of SYNTH and TECH at 1 tick/s, ending a minute ago."""
    start = minute_ago() - timedelta(minutes=3)
    rows = store_range(["SYNTH", "TECH"], start=start, seconds=180)
    return ms(start), rows


def play(start, end, speed="max", tickers=("SYNTH", "TECH"), **more) -> dict:
    return {
        "type": "playback",
        "tickers": list(tickers),
        "start": start,
        "end": end,
        "speed": speed,
        **more,
    }


async def until_done(client, timeout: float = 0.5) -> list[dict]:
    out = []
    while True:
        assert not await client.receive_nothing(timeout=timeout), out[-3:]
        message = await client.receive_json_from()
        out.append(message)
        if message["type"] == "playback_done":
            return out


@asynctest
async def test_playback_sends_the_stored_ticks_in_time_order_then_done(stored):
    start, rows = stored
    end = start + 120_000
    async with ws() as client:
        await client.send_json_to(play(start, end, channels=["ticks", "bars"]))
        started = await client.receive_json_from()
        messages = await until_done(client)
    assert started == {
        "type": "playback_started",
        "tickers": ["SYNTH", "TECH"],
        "start": start,
        "end": end,
        "speed": "max",
        "channels": ["bars", "ticks"],
    }
    ticks = [m["data"] for m in messages if m["type"] == "tick"]
    expected = sorted(
        [(t, s, sym, c) for sym in rows for t, s, c in rows[sym] if start <= t < end],
        key=lambda r: (r[0], r[2]),
    )
    assert [(t["timestamp"], t["seq"], t["ticker"], round(t["price"] * 100)) for t in ticks] == (
        expected
    )
    assert set(ticks[0]) == {"ticker", "price", "volume", "bid", "ask", "timestamp", "seq"}
    bars = [m for m in messages if m["type"] == "bar"]
    # Two minutes: the two bars of each ticker closing in (start, end], each before the ticks
    # of the instant it closes at.
    assert [(b["data"]["ticker"], b["data"]["time"]) for b in bars] == [
        ("SYNTH", start),
        ("TECH", start),
        ("SYNTH", start + 60_000),
        ("TECH", start + 60_000),
    ]
    first_after = next(i for i, m in enumerate(messages) if m["type"] == "tick"
                       and m["data"]["timestamp"] >= start + 60_000)  # fmt: skip
    assert messages[first_after - 2 : first_after] == bars[:2]
    assert bars[0]["data"]["trade_count"] == 60
    done = messages[-1]
    assert done == {
        "type": "playback_done",
        "reason": "end",
        "ticks": 240,
        "bars": 4,
        "counts": {"SYNTH": 120, "TECH": 120},
        "start": start,
        "end": end,
        "time": end,  # the last bar closes at the end
    }


@asynctest
async def test_a_playback_at_a_speed_is_paced_by_market_time(stored):
    start, _ = stored
    async with ws() as client:
        await client.send_json_to(play(start, start + 2_000, speed=4, tickers=["SYNTH"]))
        assert (await client.receive_json_from())["type"] == "playback_started"
        # 2 s of market time at 4x: the two ticks come at 0 and 0.25 s, done by 0.5 s.
        first = await client.receive_json_from()
        assert first["data"]["seq"] == 0
        assert await client.receive_nothing(timeout=0.15)
        second = await client.receive_json_from()
        assert second["data"]["seq"] == 1
        messages = await until_done(client)
    assert messages[-1]["ticks"] == 2


@asynctest
async def test_pause_resume_and_stop(stored):
    start, _ = stored
    async with ws() as client:
        await client.send_json_to(play(start, start + 60_000, speed=20, tickers=["SYNTH"]))
        assert (await client.receive_json_from())["type"] == "playback_started"
        first = await client.receive_json_from()
        await client.send_json_to({"type": "pause"})
        messages = await receive_all(client, timeout=0.3)
        before, paused = messages[:-1], messages[-1]
        assert paused["type"] == "playback_paused"
        assert paused["time"] == max(m["data"]["timestamp"] for m in [first, *messages[:-1]])
        assert await client.receive_nothing(timeout=0.3)  # nothing while paused
        await client.send_json_to({"type": "pause"})  # pausing again is harmless
        assert (await client.receive_json_from())["type"] == "playback_paused"
        await client.send_json_to({"type": "resume"})
        resumed = await client.receive_json_from()
        assert resumed == {"type": "playback_resumed", "time": paused["time"]}
        after = await client.receive_json_from()
        assert after["data"]["timestamp"] == paused["time"] + 1000  # nothing skipped
        await client.send_json_to({"type": "stop"})
        messages = await until_done(client)
        done = messages[-1]
        seqs = [m["data"]["seq"] for m in [first, *before, after, *messages] if m["type"] == "tick"]
        assert done["reason"] == "stopped" and done["ticks"] < 60
        assert seqs == list(range(done["ticks"]))
        # Once done, the connection can go live (or play back again).
        assert (await subscribe(client, tickers=["SYNTH"]))["type"] == "subscribed"
        await expect_error(client, "no_playback", message={"type": "stop"})


@asynctest
async def test_a_connection_is_live_or_playing_back(stored):
    start, _ = stored
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH"])
        await expect_error(client, "live_active", message=play(start, start + 1000))
        await client.send_json_to({"type": "unsubscribe", "tickers": "*"})
        assert (await client.receive_json_from())["type"] == "unsubscribed"
        await client.send_json_to(play(start, start + 60_000, speed=1, tickers=["SYNTH"]))
        assert (await client.receive_json_from())["type"] == "playback_started"
        assert (await client.receive_json_from())["type"] == "tick"
        await expect_error(client, "playback_active", message=play(start, start + 1000))
        await client.send_json_to({"type": "subscribe", "tickers": ["SYNTH"]})
        error = await client.receive_json_from()
        assert error["code"] == "playback_active"
        await client.send_json_to({"type": "stop"})
        assert (await until_done(client))[-1]["reason"] == "stopped"


@asynctest
async def test_every_bad_request_is_a_coded_error_and_changes_nothing(stored, settings):
    start, _ = stored
    settings.PLAYBACK_MAX_RANGE_SECONDS = 3600
    settings.WS_MAX_MESSAGES_PER_SECOND = 1000
    now = ms(minute_ago()) + 60_000
    cases = [
        ("bad_speed", play(start, start + 1000, speed=0)),
        ("bad_speed", play(start, start + 1000, speed=-2)),
        ("bad_speed", play(start, start + 1000, speed="fast")),
        ("bad_speed", play(start, start + 1000, speed=True)),
        ("bad_speed", play(start, start + 1000, speed=10**9)),
        ("bad_speed", {"type": "playback", "tickers": "SYNTH", "start": start, "end": start + 1}),
        ("bad_time", play("yesterday", start + 1000)),
        ("bad_time", play(start, None)),
        ("bad_time", play("2026-01-01T00:00:00", start)),  # no zone
        ("bad_time", play(start, start)),  # empty
        ("bad_time", play(start + 1000, start)),  # backwards
        ("bad_time", play(start, now + 3_600_000)),  # the future
        ("bad_time", play(-5, start)),
        ("range_too_long", play(start - 7_200_000, start)),
        ("range_unavailable", play(now - 40 * 86_400_000, now - 40 * 86_400_000 + 1000)),
        (ErrorCode.UNKNOWN_TICKER, play(start, start + 1000, tickers=["SYNTH", "NOPE"])),
        (ErrorCode.INVALID_MESSAGE, play(start, start + 1000, tickers=[])),
        (ErrorCode.INVALID_MESSAGE, play(start, start + 1000, channels=["quotes"])),
        ("no_playback", {"type": "pause"}),
        ("no_playback", {"type": "resume"}),
        ("no_playback", {"type": "stop"}),
    ]
    async with ws() as client:
        for code, message in cases:
            error = await expect_error(client, code, message=message)
            assert "playback" not in error.get("type", "")
        # Still idle: a valid playback starts.
        await client.send_json_to(play(start, start + 1000, tickers=["SYNTH"]))
        assert (await client.receive_json_from())["type"] == "playback_started"
        assert (await until_done(client))[-1]["ticks"] == 1
    # The range is given in ISO 8601 too.
    async with ws() as client:
        await client.send_json_to(play("1970-01-01T00:00:00Z", "1970-01-01T00:00:01Z"))
        error = await client.receive_json_from()
        assert error["code"] == "range_unavailable"
        await usable(client)


@asynctest
async def test_playbacks_per_process_and_per_key_are_limited(stored, settings):
    start, _ = stored
    settings.PLAYBACK_MAX_PER_PROCESS = 1
    async with ws() as first, ws() as second:
        await first.send_json_to(play(start, start + 60_000, speed=1))
        assert (await first.receive_json_from())["type"] == "playback_started"
        error = await expect_error(second, "too_many_playbacks", message=play(start, start + 1))
        assert "PLAYBACK_MAX_PER_PROCESS=1" in error["message"]
        await first.send_json_to({"type": "stop"})
        await until_done(first)
        # The slot is back once the first one ended.
        await second.send_json_to(play(start, start + 1000))
        assert (await second.receive_json_from())["type"] == "playback_started"
        await until_done(second)


@asynctest
async def test_a_playback_reaches_no_other_connection(stored, market):
    start, _ = stored
    async with ws() as player, ws() as live, ws() as idle:
        await subscribe(live, tickers=["SYNTH"])
        await player.send_json_to(play(start, start + 180_000, channels=["ticks", "bars"]))
        await player.send_json_to({"type": "pause"})
        await player.send_json_to({"type": "resume"})
        await player.send_json_to({"type": "stop"})
        live_tick = tick("SYNTH", 5)
        await market.commit(live_tick)
        assert [m["type"] for m in await receive_all(live)] == ["tick"]
        assert await idle.receive_nothing(timeout=0.2)
        messages = await until_done(player)
        assert all(m["data"]["timestamp"] < start + 180_000 for m in messages if "data" in m)
