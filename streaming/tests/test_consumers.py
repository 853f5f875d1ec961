"""``/ws`` through ``config.asgi.application`` with ``WebsocketCommunicator``, the consumer
itself: connect, ping, typed errors, message size and rate limits, slow clients, its log lines.
(Sessions: test_session.py; who may connect: test_auth.py.)

The channel layer is in memory; quotes and replay streams are in the real Redis under the test
prefix, written the way the generator commits them.
"""

import asyncio
import logging
import re

import pytest

from streaming import replay
from streaming.protocol import ErrorCode
from streaming.publish import apublish

from .conftest import asynctest, receive_all, subscribe, tick, ws
from .ws_helpers import expect_error, now_ms, seqs, usable

pytestmark = pytest.mark.django_db


# --- connect, subscribe, ticks, unsubscribe, ping ---------------------------------------------


@asynctest
async def test_welcome_message(market):
    async with ws(welcome=False) as client:
        hello = await client.receive_json_from()
    assert set(hello) == {"type", "clientId", "timestamp"}
    assert hello["type"] == "connected" and re.fullmatch(r"[0-9a-f]{32}", hello["clientId"])
    assert abs(hello["timestamp"] - now_ms()) < 5_000


@asynctest
async def test_ping_pong(market):
    async with ws() as client:
        await client.send_json_to({"type": "ping"})
        pong = await client.receive_json_from()
    assert pong["type"] == "pong" and abs(pong["timestamp"] - now_ms()) < 5_000


# --- errors: typed, and the connection stays usable -----------------------------------------


@asynctest
async def test_invalid_json_unknown_type_and_invalid_fields(market):
    async with ws() as client:
        await expect_error(client, ErrorCode.INVALID_JSON, raw="{nope")
        await expect_error(client, ErrorCode.INVALID_MESSAGE, raw="[1, 2]")
        await expect_error(client, ErrorCode.UNKNOWN_TYPE, message={"type": "hello"})
        await expect_error(
            client,
            ErrorCode.INVALID_MESSAGE,
            message={"type": "subscribe", "tickers": "SYNTH", "since": "now"},
        )
        await client.send_to(bytes_data=b'{"type": "ping"}')  # binary frames are read too
        assert (await client.receive_json_from())["type"] == "pong"


@asynctest
async def test_message_too_large(market, settings):
    settings.WS_MAX_MESSAGE_BYTES = 100
    async with ws() as client:
        await expect_error(
            client,
            ErrorCode.MESSAGE_TOO_LARGE,
            message={"type": "subscribe", "tickers": ["SYNTH"] * 30},
        )


@asynctest
async def test_client_messages_per_second_are_limited(market, settings):
    settings.WS_MAX_MESSAGES_PER_SECOND = 3
    async with ws() as client:
        for _ in range(6):
            await client.send_json_to({"type": "ping"})
        replies = await receive_all(client, timeout=0.6)
        assert [r["type"] for r in replies] == ["pong"] * 3 + ["error"]
        assert replies[-1] == {
            "type": "error",
            "code": ErrorCode.RATE_LIMITED,
            "dropped": 3,
            "message": "3 messages dropped unanswered: more than 3 a second (bursts of up to 3)",
        }
        await asyncio.sleep(0.5)
        await usable(client)


@asynctest
async def test_each_burst_over_the_limit_is_reported_once_with_its_count(market, settings):
    settings.WS_MAX_MESSAGES_PER_SECOND = 20
    async with ws() as client:
        for burst in (30, 25):
            for _ in range(burst):
                await client.send_json_to({"type": "ping"})
            replies = await receive_all(client, timeout=1.2)
            assert [r["type"] for r in replies].count("pong") == 20  # the whole burst size
            errors = [r for r in replies if r["type"] == "error"]
            assert [(e["code"], e["dropped"]) for e in errors] == [
                (ErrorCode.RATE_LIMITED, burst - 20)
            ]
            await asyncio.sleep(1.1)  # the bucket refills


@asynctest
async def test_redis_unreachable_is_an_unavailable_error_not_a_dropped_connection(
    market, monkeypatch
):
    import redis

    async def down(*args, **kwargs):
        raise redis.ConnectionError("Connection refused")

    async with ws() as client:
        monkeypatch.setattr(replay, "check_seq", down)
        await expect_error(
            client,
            ErrorCode.UNAVAILABLE,
            message={"type": "subscribe", "tickers": "SYNTH", "from_seq": {"SYNTH": 1}},
        )
        await market.commit(tick("SYNTH", 1))
        assert await receive_all(client) == []  # that subscribe changed nothing
        # The snapshot cannot be read: subscribed, an error, then the live stream.
        monkeypatch.setattr(replay, "latest", down)
        assert (await subscribe(client, tickers="SYNTH"))["type"] == "subscribed"
        error = await client.receive_json_from()
        assert (error["type"], error["code"]) == ("error", ErrorCode.UNAVAILABLE)
        await market.commit(tick("SYNTH", 2))
        assert seqs(await receive_all(client)) == [("SYNTH", 2)]


# --- resume: since / from_seq, and the seam ---------------------------------------------------


# --- bars, batch mode -----------------------------------------------------------------------


# --- protection -------------------------------------------------------------------------------


@asynctest
async def test_a_client_that_falls_behind_gets_slow_client_and_is_closed(market, settings):
    settings.WS_SEND_QUEUE_LIMIT = 5
    async with ws(welcome=False) as client:
        await client.receive_json_from()
        await subscribe(client, tickers="SYNTH")
        # More than the queue holds, at once (the writer has no chance to run in between).
        await market.commit(*[tick("SYNTH", s) for s in range(1, 11)])
        error = await client.receive_json_from()
        assert (error["type"], error["code"]) == ("error", ErrorCode.SLOW_CLIENT)
        assert await client.receive_output() == {"type": "websocket.close", "code": 4008}


# --- origins ------------------------------------------------------------------------------------


# --- revocation across processes (real ticks.api_keys, Redis channel layer, another process) --


@asynctest
async def test_a_websocket_is_logged_when_it_connects_and_closes(market, caplog):
    caplog.set_level(logging.INFO, logger="streaming.consumers")
    async with ws() as client:
        await client.send_json_to({"type": "ping"})
        await client.receive_json_from()
    lines = [r.getMessage() for r in caplog.records if r.name == "streaming.consumers"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("WebSocket ") and lines[0].endswith(" connected: /ws from ?")
    assert lines[1] == f"WebSocket {lines[0].split()[1]} closed (code 1000)"


# --- trading status ---------------------------------------------------------------------------


@asynctest
async def test_status_messages_of_subscribed_tickers_in_order_with_the_ticks(market):
    from streaming.publish import status_messages, status_wire
    from ticks.payloads import StatusPayload

    def halted(symbol, status, at):
        return status_wire(StatusPayload(symbol, status, at, "news pending"))

    async with ws() as client:
        assert (await subscribe(client, tickers=["SYNTH"]))["type"] == "subscribed"
        await receive_all(client)
        await market.commit(tick("SYNTH", 1, 1_000))
        await apublish(
            status_messages([halted("SYNTH", "halted", 1_050), halted("TECH", "halted", 1_050)])
        )
        await apublish(status_messages([halted("SYNTH", "trading", 5_000)]))
        await market.commit(tick("SYNTH", 2, 5_000))
        got = await receive_all(client)
    assert [m["type"] for m in got] == ["tick", "status", "status", "tick"]
    assert got[1] == {
        "type": "status",
        "data": {"ticker": "SYNTH", "status": "halted", "reason": "news pending", "time": 1_050},
    }
    assert got[2]["data"]["status"] == "trading" and got[3]["data"]["seq"] == 2


@asynctest
async def test_a_session_status_says_when_the_market_opens_and_closes_next(market):
    from streaming.publish import status_messages, status_wire
    from ticks.payloads import StatusPayload

    closed = StatusPayload("SYNTH", "closed", 9_000, "market closed", 50_000, 80_000)
    async with ws() as client:
        assert (await subscribe(client, tickers=["SYNTH"]))["type"] == "subscribed"
        await receive_all(client)
        await apublish(status_messages([status_wire(closed)]))
        got = await receive_all(client)
    assert got == [
        {
            "type": "status",
            "data": {
                "ticker": "SYNTH",
                "status": "closed",
                "reason": "market closed",
                "time": 9_000,
                "next_open": 50_000,
                "next_close": 80_000,
            },
        }
    ]
