"""Who may use ``/v2/{feed}`` with ``API_KEYS_REQUIRED=true`` (402), the per-key connection limit
across processes (406 there, ``too_many_connections`` on ``/ws``; ``ticks.connection_slots``), and
a revoked key closing its Alpaca connections."""

import time

import pytest
from channels.layers import get_channel_layer

from streaming.protocol import ErrorCode
from ticks import connection_slots
from ticks.redis_store import get_redis

from .alpaca_helpers import AUTHENTICATED, CONNECTED, alpaca, error
from .conftest import asynctest, ws

pytestmark = pytest.mark.django_db

PREFIX = "sm_abcdefgh"
GOOD = PREFIX + "x" * 35


@pytest.fixture
def keys(settings, monkeypatch):
    """``GOOD`` (id ``PREFIX``) is key 7; keys required."""
    settings.API_KEYS_REQUIRED = True

    def pair(key_id, secret):
        return 7 if (key_id, secret) == (PREFIX, GOOD) else None

    monkeypatch.setattr("streaming.alpaca.consumer.key_pair_lookup", pair)
    monkeypatch.setattr("ticks.api_keys.key_lookup", lambda raw: 7 if raw == GOOD else None)
    monkeypatch.setattr("ticks.api_keys.key_active", lambda key_id: key_id == 7)


@asynctest
async def test_bad_credentials_get_402_and_the_connection_closes(market, keys):
    async with alpaca(auth=False) as client:
        assert await client.auth(PREFIX, GOOD + "y") == error(402, "auth failed")
        assert await client.recv() == ("close", 4008)
    async with alpaca(auth=False, packed=True) as client:
        assert await client.auth(None, None) == error(402, "auth failed")
    headers = [(b"apca-api-key-id", PREFIX.encode()), (b"apca-api-secret-key", b"nope")]
    async with alpaca(auth=False, headers=headers) as client:
        assert await client.recv() == error(402, "auth failed")


@asynctest
async def test_good_credentials_by_message_or_headers(market, keys):
    async with alpaca(auth=False) as client:
        assert await client.auth(PREFIX, GOOD) == AUTHENTICATED
    headers = [(b"apca-api-key-id", PREFIX.encode()), (b"apca-api-secret-key", GOOD.encode())]
    async with alpaca(auth=False, headers=headers) as client:
        assert await client.recv() == AUTHENTICATED


@asynctest
async def test_connection_limit_per_key_across_both_streams(market, keys, settings):
    settings.WS_MAX_CONNECTIONS_PER_KEY = 2
    async with alpaca(auth=False) as first, ws(f"/ws?api_key={GOOD}"):
        assert await first.auth(PREFIX, GOOD) == AUTHENTICATED
        async with alpaca(auth=False, packed=True) as third:
            assert await third.auth(PREFIX, GOOD) == error(406, "connection limit exceeded")
            assert await third.recv() == ("close", 4008)
        from channels.testing import WebsocketCommunicator

        from config.asgi import application

        fourth = WebsocketCommunicator(application, f"/ws?api_key={GOOD}")
        try:
            assert (await fourth.connect())[0]
            refused = await fourth.receive_json_from()
            assert (refused["type"], refused["code"]) == ("error", ErrorCode.TOO_MANY_CONNECTIONS)
            assert await fourth.receive_output() == {"type": "websocket.close", "code": 4429}
        finally:
            await fourth.disconnect()
        assert await connection_slots.slots_held(key_id=7) == 2
    assert await connection_slots.slots_held(key_id=7) == 0  # closed connections give them back
    async with alpaca(auth=False) as again:
        assert await again.auth(PREFIX, GOOD) == AUTHENTICATED


@asynctest
async def test_a_crashed_process_slots_expire(market, keys, settings):
    settings.WS_MAX_CONNECTIONS_PER_KEY = 1
    # Another process held the slot, then died without giving it back: its entry's expiry passes.
    stale = int(time.time() * 1000) - 1
    get_redis().zadd(connection_slots.slots_key(7), {"dead-process-connection": stale})
    async with alpaca(auth=False) as client:
        assert await client.auth(PREFIX, GOOD) == AUTHENTICATED
    # A live entry of another process does count.
    live = int(time.time() * 1000) + 60_000
    get_redis().zadd(connection_slots.slots_key(7), {"live-process-connection": live})
    async with alpaca(auth=False) as client:
        assert await client.auth(PREFIX, GOOD) == error(406, "connection limit exceeded")


@asynctest
async def test_slots_are_refreshed_while_open(market, keys, settings, monkeypatch):
    settings.WS_MAX_CONNECTIONS_PER_KEY = 5
    monkeypatch.setattr(connection_slots, "REFRESH_S", 0.05)
    async with alpaca(auth=False) as client:
        assert await client.auth(PREFIX, GOOD) == AUTHENTICATED
        ((_, before),) = get_redis().zrange(connection_slots.slots_key(7), 0, -1, withscores=True)
        await client.nothing(0.3)
        ((_, after),) = get_redis().zrange(connection_slots.slots_key(7), 0, -1, withscores=True)
        assert after > before


@asynctest
async def test_a_revoked_key_closes_its_alpaca_connections(market, keys):
    async with alpaca(auth=False, packed=True) as client:
        assert await client.auth(PREFIX, GOOD) == AUTHENTICATED
        await client.subscribe(trades=["SYNTH"])
        await get_channel_layer().group_send("apikey.7", {"type": "apikey.revoked"})
        assert await client.recv() == error(402, "auth failed")
        assert await client.recv() == ("close", 4008)


def test_connected_constant_is_alpacas():
    assert CONNECTED == [{"T": "success", "msg": "connected"}]
