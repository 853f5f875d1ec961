"""``/ws`` through ``config.asgi.application`` with ``WebsocketCommunicator``: every message
type, every error, resume and its seam, bars, batch mode, slow clients, API keys, origins.

The channel layer is in memory; quotes and replay streams are in the real Redis under the test
prefix, written the way the generator commits them.
"""

import asyncio
import logging
import re
import sys
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from streaming import replay, symbols
from streaming.protocol import ErrorCode

from .conftest import T0, asynctest, bar, receive_all, subscribe, tick, ws

pytestmark = pytest.mark.django_db


def data(message: dict) -> dict:
    assert message["type"] in ("tick", "bar"), message
    return message["data"]


def seqs(messages) -> list[tuple[str, int]]:
    return [(m["data"]["ticker"], m["data"]["seq"]) for m in messages if m["type"] == "tick"]


def now_ms() -> int:
    return int(time.time() * 1000)


async def usable(client) -> None:
    """The connection still answers after an error."""
    await client.send_json_to({"type": "ping"})
    assert (await client.receive_json_from())["type"] == "pong"


# --- connect, subscribe, ticks, unsubscribe, ping ---------------------------------------------

@asynctest
async def test_welcome_message(market):
    async with ws(welcome=False) as client:
        hello = await client.receive_json_from()
    assert set(hello) == {"type", "clientId", "timestamp"}
    assert hello["type"] == "connected" and re.fullmatch(r"[0-9a-f]{32}", hello["clientId"])
    assert abs(hello["timestamp"] - now_ms()) < 5_000


@asynctest
async def test_subscribe_takes_a_list_or_a_string_in_any_case(market):
    async with ws() as client:
        assert await subscribe(client, tickers=["synth", "Tech"]) == {
            "type": "subscribed", "tickers": ["SYNTH", "TECH"]}
        assert await subscribe(client, tickers="finance") == {
            "type": "subscribed", "tickers": ["FINANCE", "SYNTH", "TECH"]}
        assert await receive_all(client) == []  # nothing quoted yet


@asynctest
async def test_the_latest_tick_of_each_new_ticker_follows_subscribed(market):
    market.store(tick("SYNTH", 5), tick("TECH", 9), tick("HEALTH", 2))
    async with ws() as client:
        assert (await subscribe(client, tickers=["SYNTH", "TECH"]))["type"] == "subscribed"
        assert sorted(map(data, await receive_all(client)), key=lambda t: t["ticker"]) == [
            tick("SYNTH", 5), tick("TECH", 9)]
        # Subscribing again sends only what is new.
        assert (await subscribe(client, tickers=["TECH", "HEALTH"]))["type"] == "subscribed"
        assert list(map(data, await receive_all(client))) == [tick("HEALTH", 2)]


@asynctest
async def test_ticks_of_subscribed_tickers_only_with_the_pinned_shape(market):
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH"])
        await market.commit(tick("SYNTH", 1), tick("FINANCE", 1))
        messages = await receive_all(client)
    assert messages == [{"type": "tick", "data": {
        "ticker": "SYNTH", "price": 100.01, "volume": 101, "bid": 99.96, "ask": 100.06,
        "timestamp": T0 + 100, "seq": 1}}]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@asynctest
async def test_wildcard_covers_every_active_ticker_and_ones_added_later(market, monkeypatch):
    symbols.reset()  # read from the database, off the event loop
    async with ws() as client:
        assert await subscribe(client, tickers="*") == {
            "type": "subscribed", "tickers": ["ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH"]}
        await database_sync_to_async(_create_ticker)("NEWCO")
        await market.commit(tick("NEWCO", 0), tick("ENERGY", 3))
        assert sorted(seqs(await receive_all(client))) == [("ENERGY", 3), ("NEWCO", 0)]
    # A new ticker can be named as soon as it exists (the symbol cache re-reads on a miss).
    monkeypatch.setattr(symbols, "MISS_REFRESH_S", 0.0)
    await database_sync_to_async(_create_ticker)("LATER")
    async with ws() as client:
        assert (await subscribe(client, tickers="later"))["tickers"] == ["LATER"]


def _create_ticker(symbol: str) -> None:
    from ticks.models import Ticker

    Ticker.objects.create(symbol=symbol, name=f"{symbol} Inc", sector="Technology",
                          start_price=100, drift=0.05, volatility=0.2, min_price=10,
                          max_price=1000)


@asynctest
async def test_unsubscribe(market):
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH", "TECH", "HEALTH"])
        await client.send_json_to({"type": "unsubscribe", "tickers": ["synth", "health"]})
        assert await client.receive_json_from() == {"type": "unsubscribed", "tickers": ["TECH"]}
        await market.commit(tick("SYNTH", 1), tick("TECH", 1), tick("HEALTH", 1))
        assert seqs(await receive_all(client)) == [("TECH", 1)]
        await client.send_json_to({"type": "unsubscribe", "tickers": "*"})
        assert await client.receive_json_from() == {"type": "unsubscribed", "tickers": []}
        await market.commit(tick("TECH", 2))
        assert await receive_all(client) == []


@asynctest
async def test_unsubscribing_one_ticker_of_the_wildcard_keeps_the_others(market):
    async with ws() as client:
        await subscribe(client, tickers="*")
        await client.send_json_to({"type": "unsubscribe", "tickers": "ENERGY"})
        assert await client.receive_json_from() == {
            "type": "unsubscribed", "tickers": ["FINANCE", "HEALTH", "SYNTH", "TECH"]}
        await market.commit(tick("ENERGY", 1), tick("TECH", 1))
        assert seqs(await receive_all(client)) == [("TECH", 1)]


@asynctest
async def test_ping_pong(market):
    async with ws() as client:
        await client.send_json_to({"type": "ping"})
        pong = await client.receive_json_from()
    assert pong["type"] == "pong" and abs(pong["timestamp"] - now_ms()) < 5_000


# --- errors: typed, and the connection stays usable -----------------------------------------

async def expect_error(client, code: str, raw=None, message=None) -> dict:
    if raw is not None:
        await client.send_to(text_data=raw)
    else:
        await client.send_json_to(message)
    error = await client.receive_json_from()
    assert error["type"] == "error" and error["code"] == code, error
    assert error["message"]
    await usable(client)
    return error


@asynctest
async def test_invalid_json_unknown_type_and_invalid_fields(market):
    async with ws() as client:
        await expect_error(client, ErrorCode.INVALID_JSON, raw="{nope")
        await expect_error(client, ErrorCode.INVALID_MESSAGE, raw="[1, 2]")
        await expect_error(client, ErrorCode.UNKNOWN_TYPE, message={"type": "hello"})
        await expect_error(client, ErrorCode.INVALID_MESSAGE,
                           message={"type": "subscribe", "tickers": "SYNTH", "since": "now"})
        await client.send_to(bytes_data=b'{"type": "ping"}')  # binary frames are read too
        assert (await client.receive_json_from())["type"] == "pong"


@asynctest
async def test_unknown_tickers_are_named_and_the_whole_subscribe_is_rejected(market):
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH"])
        error = await expect_error(client, ErrorCode.UNKNOWN_TICKER, message={
            "type": "subscribe", "tickers": ["TECH", "nope", "ZZZ"]})
        assert "NOPE" in error["message"] and "ZZZ" in error["message"]
        assert error["tickers"] == ["NOPE", "ZZZ"]
        await market.commit(tick("SYNTH", 1), tick("TECH", 1))
        assert seqs(await receive_all(client)) == [("SYNTH", 1)]  # TECH was not added
        await expect_error(client, ErrorCode.UNKNOWN_TICKER,
                           message={"type": "unsubscribe", "tickers": "NOPE"})


@asynctest
async def test_too_many_tickers(market, settings):
    settings.WS_MAX_SUBSCRIPTIONS = 3
    async with ws() as client:
        await expect_error(client, ErrorCode.TOO_MANY_TICKERS, message={
            "type": "subscribe", "tickers": ["SYNTH", "TECH", "HEALTH", "ENERGY"]})
        await subscribe(client, tickers=["SYNTH", "TECH"])
        await expect_error(client, ErrorCode.TOO_MANY_TICKERS, message={
            "type": "subscribe", "tickers": ["HEALTH", "ENERGY"]})
        # "*" is one subscription however many tickers it covers.
        assert (await subscribe(client, tickers="*"))["type"] == "subscribed"


@asynctest
async def test_message_too_large(market, settings):
    settings.WS_MAX_MESSAGE_BYTES = 100
    async with ws() as client:
        await expect_error(client, ErrorCode.MESSAGE_TOO_LARGE,
                           message={"type": "subscribe", "tickers": ["SYNTH"] * 30})


@asynctest
async def test_client_messages_per_second_are_limited(market, settings):
    settings.WS_MAX_MESSAGES_PER_SECOND = 3
    async with ws() as client:
        for _ in range(6):
            await client.send_json_to({"type": "ping"})
        replies = await receive_all(client, timeout=0.6)
        assert [r["type"] for r in replies] == ["pong"] * 3 + ["error"]
        assert replies[-1] == {
            "type": "error", "code": ErrorCode.RATE_LIMITED, "dropped": 3,
            "message": "3 messages dropped unanswered: more than 3 a second (bursts of up to 3)"}
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
                (ErrorCode.RATE_LIMITED, burst - 20)]
            await asyncio.sleep(1.1)  # the bucket refills


@asynctest
async def test_redis_unreachable_is_an_unavailable_error_not_a_dropped_connection(
        market, monkeypatch):
    import redis

    async def down(*args, **kwargs):
        raise redis.ConnectionError("Connection refused")

    async with ws() as client:
        monkeypatch.setattr(replay, "check_seq", down)
        await expect_error(client, ErrorCode.UNAVAILABLE, message={
            "type": "subscribe", "tickers": "SYNTH", "from_seq": {"SYNTH": 1}})
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

def recent(symbol: str, first: int, last: int) -> list[dict]:
    """Ticks ``first..last`` ending about now, 100 ms apart."""
    end = now_ms() - now_ms() % 100
    return [tick(symbol, s, end - 100 * (last - s)) for s in range(first, last + 1)]


@asynctest
async def test_resume_with_since_replays_after_it_then_continues_live(market):
    history = recent("SYNTH", 1, 20)
    market.store(*history)
    async with ws() as client:
        assert (await subscribe(client, tickers="SYNTH", since=history[9]["timestamp"]))[
            "type"] == "subscribed"
        replayed = await receive_all(client)
        assert list(map(data, replayed)) == history[10:]  # 11..20: exclusive of since
        live = tick("SYNTH", 21, history[-1]["timestamp"] + 100)
        await market.commit(live)
        assert list(map(data, await receive_all(client))) == [live]


@asynctest
async def test_resume_with_from_seq_per_ticker(market):
    synth, tech = recent("SYNTH", 1, 20), recent("TECH", 101, 110)
    market.store(*synth, *tech)
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH", "TECH"], from_seq={"SYNTH": 15, "tech": 108})
        got = seqs(await receive_all(client))
    assert sorted(got) == [("SYNTH", s) for s in range(16, 21)] + [("TECH", 109), ("TECH", 110)]
    # Chronological across tickers.
    assert [m for m in got if m[0] == "SYNTH"] == [("SYNTH", s) for s in range(16, 21)]


@asynctest
async def test_a_resume_older_than_the_window_is_refused_and_changes_nothing(market, settings):
    settings.WS_REPLAY_SECONDS = 2
    history = recent("SYNTH", 1, 20)  # the stream still holds 2 s: seq 1..20
    market.store(*history[10:])  # ... here only 11..20 are left
    async with ws() as client:
        error = await expect_error(client, ErrorCode.REPLAY_UNAVAILABLE, message={
            "type": "subscribe", "tickers": "SYNTH", "since": now_ms() - 10_000})
        assert "/api/v1/history/" in error["message"]
        await expect_error(client, ErrorCode.REPLAY_UNAVAILABLE, message={
            "type": "subscribe", "tickers": "SYNTH", "from_seq": {"SYNTH": 3}})
        await market.commit(tick("SYNTH", 21, history[-1]["timestamp"] + 100))
        assert await receive_all(client) == []  # not subscribed
        # The first tick still in the stream is a valid resume point.
        await subscribe(client, tickers="SYNTH", from_seq={"SYNTH": 10})
        assert [s for _, s in seqs(await receive_all(client))] == list(range(11, 22))


@asynctest
async def test_ticks_published_while_the_snapshot_is_read_are_neither_lost_nor_repeated(
        market, monkeypatch):
    history = recent("SYNTH", 1, 20)
    market.store(*history)
    later = [tick("SYNTH", s, history[-1]["timestamp"] + 100 * (s - 20)) for s in range(21, 24)]
    read = replay.ticks_since

    async def slow_snapshot(symbol, since_ms):
        snapshot = await read(symbol, since_ms)  # 11..20
        # Meanwhile the generator commits and publishes 19..23 (19, 20 overlap the snapshot).
        await market.publish(*history[18:], *later)
        await asyncio.sleep(0.05)
        return snapshot

    monkeypatch.setattr(replay, "ticks_since", slow_snapshot)
    async with ws() as client:
        await subscribe(client, tickers="SYNTH", since=history[9]["timestamp"])
        got = [s for _, s in seqs(await receive_all(client))]
    assert got == list(range(11, 24))


@asynctest
async def test_a_gap_in_the_live_stream_is_filled_from_the_replay_stream(market):
    history = recent("SYNTH", 1, 20)
    market.store(*history)
    async with ws() as client:
        await subscribe(client, tickers="SYNTH")
        assert seqs(await receive_all(client)) == [("SYNTH", 20)]  # the latest
        following = [tick("SYNTH", s, history[-1]["timestamp"] + 100 * (s - 20))
                     for s in range(21, 25)]
        market.store(*following)
        await market.publish(following[2])  # the publishes of 21 and 22 were lost
        await market.publish(following[3])
        assert [s for _, s in seqs(await receive_all(client))] == [21, 22, 23, 24]


@asynctest
async def test_ticks_published_again_are_not_sent_again(market):
    """After Redis lost the live state the generator regenerates (identically) ticks it had
    already published: clients get each seq once."""
    async with ws() as client:
        await subscribe(client, tickers="SYNTH")
        assert await receive_all(client) == []  # (nothing quoted yet)
        await market.commit(tick("SYNTH", 1), tick("SYNTH", 2))
        await market.publish(tick("SYNTH", 1), tick("SYNTH", 2))
        await market.commit(tick("SYNTH", 3))
        assert [s for _, s in seqs(await receive_all(client))] == [1, 2, 3]


# --- bars, batch mode -----------------------------------------------------------------------

@asynctest
async def test_bars_when_the_open_bar_changes_and_when_it_closes(market):
    minute = T0 - T0 % 60_000
    async with ws() as client:
        await subscribe(client, tickers="SYNTH", channels=["ticks", "bars"])
        first = bar("SYNTH", minute, 101.0)
        await market.publish_bars(first, bar("TECH", minute, 5.0))
        assert await receive_all(client) == [{"type": "bar", "data": first}]
        await market.publish_bars(first)  # the next rollup: unchanged, nothing sent
        assert await receive_all(client) == []
        changed, closed_then_next = bar("SYNTH", minute, 102.0, 20), bar("SYNTH", minute, 103.0)
        await market.publish_bars(changed)
        assert list(map(data, await receive_all(client))) == [changed]
        following = bar("SYNTH", minute + 60_000, 104.0)
        await market.publish_bars(closed_then_next, following)
        assert list(map(data, await receive_all(client))) == [closed_then_next, following]
        await market.commit(tick("SYNTH", 1))
        assert seqs(await receive_all(client)) == [("SYNTH", 1)]


@asynctest
async def test_bars_only(market):
    minute = T0 - T0 % 60_000
    async with ws() as client:
        await subscribe(client, tickers="*", channels=["bars"])
        await market.commit(tick("SYNTH", 1))
        await market.publish_bars(bar("TECH", minute, 9.0))
        assert [m["type"] for m in await receive_all(client)] == ["bar"]


@asynctest
async def test_batch_mode_sends_one_array_per_cycle(market):
    market.store(tick("SYNTH", 4), tick("TECH", 6))
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH", "TECH"], batch=True)
        assert await receive_all(client) == [
            {"type": "ticks", "data": [tick("SYNTH", 4), tick("TECH", 6)]}]
        await market.commit(tick("SYNTH", 5), tick("TECH", 7), tick("FINANCE", 1))
        assert await receive_all(client) == [
            {"type": "ticks", "data": [tick("SYNTH", 5), tick("TECH", 7)]}]


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
        assert await client.receive_output() == {"type": "websocket.close", "code": 1008}


class _StubKeys:
    """Stands in for ``ticks.api_keys``'s key check in these tests: "good-key" is key 7,
    active unless ``revoked`` holds 7."""

    revoked: set = set()

    @staticmethod
    def key_lookup(raw: str) -> int | None:
        return 7 if raw == "good-key" else None

    @classmethod
    def key_active(cls, key_id: int) -> bool:
        return key_id == 7 and key_id not in cls.revoked


@pytest.fixture
def api_keys(settings, monkeypatch):
    settings.API_KEYS_REQUIRED = True
    stub = _StubKeys()
    _StubKeys.revoked.clear()
    monkeypatch.setattr("ticks.api_keys.key_lookup", stub.key_lookup)
    monkeypatch.setattr("ticks.api_keys.key_active", stub.key_active)
    return stub


async def closes_revoked(client) -> None:
    error = await client.receive_json_from(timeout=5)
    assert error == {"type": "error", "code": ErrorCode.KEY_REVOKED,
                     "message": "the API key of this connection was revoked"}
    assert await client.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}


async def closes_unauthorized(path: str, headers=()) -> None:
    from config.asgi import application

    client = WebsocketCommunicator(application, path, headers=list(headers))
    try:
        assert (await client.connect())[0]
        error = await client.receive_json_from()
        assert (error["type"], error["code"]) == ("error", ErrorCode.UNAUTHORIZED)
        assert await client.receive_output() == {"type": "websocket.close", "code": 4401}
    finally:
        await client.disconnect()


@asynctest
async def test_api_key_required_at_connect(market, api_keys):
    await closes_unauthorized("/ws")
    await closes_unauthorized("/ws?api_key=wrong")
    await closes_unauthorized("/ws", headers=[(b"x-api-key", b"wrong")])
    async with ws("/ws?api_key=good-key") as client:
        await usable(client)
    async with ws("/ws", headers=[(b"x-api-key", b"good-key")]) as client:
        await usable(client)


@asynctest
async def test_the_dashboard_token_opens_the_socket_too(market, api_keys):
    from ticks import stream_tokens as tokens

    async with ws(f"/ws?token={tokens.dashboard_token_issue()}") as client:
        await usable(client)
    await closes_unauthorized("/ws?token=forged")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_key_issued_by_the_api_app_opens_the_socket(market, settings):
    """Through the real ``ticks.api_keys`` (hashed keys in the database)."""
    from ticks import api_keys as keys

    settings.API_KEYS_REQUIRED = True
    keys.reset_cache()
    _, raw = keys.api_key_create(name="ws test")

    @asynctest
    async def scenario():
        async with ws(f"/ws?api_key={raw}") as client:
            await usable(client)
        await closes_unauthorized("/ws?api_key=" + raw[:-1] + ("A" if raw[-1] != "A" else "B"))

    scenario()


@asynctest
async def test_a_revoked_key_closes_its_open_connection_with_4403(market, api_keys):
    from channels.layers import get_channel_layer

    async with ws("/ws?api_key=good-key") as client, ws("/ws?api_key=good-key") as other:
        assert (await subscribe(client, tickers="SYNTH"))["type"] == "subscribed"
        await receive_all(client)
        await get_channel_layer().group_send("apikey.8", {"type": "apikey.revoked"})
        await usable(client)  # another key's revocation changes nothing here
        await get_channel_layer().group_send("apikey.7", {"type": "apikey.revoked"})
        await closes_revoked(client)
        await closes_revoked(other)
        await market.commit(tick("SYNTH", 1))
        assert await client.receive_nothing(timeout=0.2)  # no tick after the close


@asynctest
async def test_a_key_revoked_while_connecting_is_closed_at_once(market, api_keys):
    """Revoked between the first check and joining the key's group: the second check sees it."""
    from config.asgi import application

    api_keys.revoked.add(7)  # key_lookup still finds it (the cache of the first check)
    client = WebsocketCommunicator(application, "/ws?api_key=good-key")
    try:
        assert (await client.connect())[0]
        await closes_revoked(client)
    finally:
        await client.disconnect()


@asynctest
async def test_without_api_keys_required_no_key_is_needed(market, settings):
    settings.API_KEYS_REQUIRED = False
    async with ws("/ws?api_key=whatever") as client:
        await usable(client)


# --- origins ------------------------------------------------------------------------------------

async def opens(headers) -> bool:
    from config.asgi import application

    client = WebsocketCommunicator(application, "/ws", headers=headers)
    connected, _ = await client.connect()
    await client.disconnect()
    return connected


@asynctest
async def test_origin_rule(market, settings):
    settings.ALLOWED_HOSTS = ["localhost", "market.example.com"]
    settings.WS_ALLOWED_ORIGINS = []
    assert await opens([])  # scripts and bots send no Origin: the seed's Python client
    assert await opens([(b"origin", b"http://localhost:3000")])
    assert await opens([(b"origin", b"https://market.example.com")])
    assert not await opens([(b"origin", b"https://evil.example.net")])
    settings.WS_ALLOWED_ORIGINS = ["https://charts.example.com"]
    assert await opens([(b"origin", b"https://charts.example.com")])
    assert not await opens([(b"origin", b"http://charts.example.com")])
    assert not await opens([(b"origin", b"http://localhost:3000")])
    assert await opens([])


# --- revocation across processes (real ticks.api_keys, Redis channel layer, another process) --

REVOKE_IN_ANOTHER_PROCESS = """
import django
django.setup()
from ticks.api_keys import api_key_revoke
from ticks.models import ApiKey
print(api_key_revoke(keys=ApiKey.objects.filter(name="revoked elsewhere")))
"""


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_revoking_a_key_in_another_process_closes_its_open_socket(settings):
    """The fault: a revoked key kept its open /ws (54 ticks in the next 5 s). Here the key is
    revoked by another process, as the admin's would be, over the Redis channel layer."""
    import os
    import subprocess

    from django.db import connection

    from config.tests.test_settings import ROOT
    from ticks import api_keys as keys

    assert "RedisPubSubChannelLayer" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
    settings.API_KEYS_REQUIRED = True
    keys.reset_cache()
    _, raw = keys.api_key_create(name="revoked elsewhere")
    _, kept = keys.api_key_create(name="kept")
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                           f"{db['PORT'] or 5432}/{db['NAME']}",
           "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYER_PREFIX,
           "MARKET_REDIS_PREFIX": settings.MARKET_REDIS_PREFIX}

    @asynctest
    async def scenario():
        async with ws(f"/ws?api_key={raw}") as client, ws(f"/ws?api_key={kept}") as other:
            await usable(client)
            result = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-c", REVOKE_IN_ANOTHER_PROCESS], cwd=ROOT,
                env=env, capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip().splitlines()[-1] == "1"
            await closes_revoked(client)
            await usable(other)

    scenario()


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
