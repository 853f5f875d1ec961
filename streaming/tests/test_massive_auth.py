"""Who may use ``/stocks`` with ``API_KEYS_REQUIRED=true`` (``auth_failed``), the per-key
connection limit shared with ``/ws`` and the Alpaca stream (``max_connections``), and a revoked
key closing its Massive connections (``force_disconnect``)."""

import pytest
from channels.layers import get_channel_layer

from ticks import connection_slots

from .alpaca_helpers import AUTHENTICATED as ALPACA_AUTHENTICATED
from .alpaca_helpers import alpaca
from .conftest import asynctest
from .massive_helpers import AUTHENTICATED, massive, status, subscribed

pytestmark = pytest.mark.django_db

PREFIX = "sm_abcdefgh"
GOOD = PREFIX + "x" * 35


@pytest.fixture
def keys(settings, monkeypatch):
    """``GOOD`` is key 7; keys required."""
    settings.API_KEYS_REQUIRED = True
    lookup = lambda raw: 7 if raw == GOOD else None  # noqa: E731
    monkeypatch.setattr("streaming.massive.consumer.key_lookup", lookup)
    monkeypatch.setattr("ticks.api_keys.key_lookup", lookup)
    monkeypatch.setattr(
        "streaming.alpaca.consumer.key_pair_lookup",
        lambda key_id, secret: 7 if (key_id, secret) == (PREFIX, GOOD) else None,
    )
    monkeypatch.setattr("ticks.api_keys.key_active", lambda key_id: key_id == 7)


@asynctest
async def test_a_wrong_or_malformed_key_fails_and_closes(market, keys):
    for bad in (GOOD + "y", None, 42, ""):
        async with massive(auth=False) as client:
            assert await client.auth(bad) == [status("auth_failed", "authentication failed")]
            assert await client.recv() == ("close", 4008)


@asynctest
async def test_a_good_key(market, keys):
    async with massive(auth=False) as client:
        assert await client.auth(GOOD) == AUTHENTICATED
        assert await client.subscribe("T.SYNTH") == subscribed("T.SYNTH")


@asynctest
async def test_the_database_down_is_an_error_and_the_connection_stays(market, keys, monkeypatch):
    from django.db import DatabaseError

    def down(raw):
        raise DatabaseError("down")

    monkeypatch.setattr("streaming.massive.consumer.key_lookup", down)
    async with massive(auth=False) as client:
        assert await client.auth(GOOD) == [
            status("error", "authentication is unavailable right now; try again")
        ]
        monkeypatch.setattr("streaming.massive.consumer.key_lookup", lambda raw: 7)
        assert await client.auth(GOOD) == AUTHENTICATED


@asynctest
async def test_connection_limit_per_key_with_the_other_streams(market, keys, settings):
    settings.WS_MAX_CONNECTIONS_PER_KEY = 2
    async with massive(key=GOOD), alpaca(auth=False) as second:
        assert await second.auth(PREFIX, GOOD) == ALPACA_AUTHENTICATED
        async with massive(auth=False) as third:
            assert await third.auth(GOOD) == [
                status(
                    "max_connections",
                    "Maximum number of websocket connections exceeded. You have reached the "
                    "connection limit for your API key (WS_MAX_CONNECTIONS_PER_KEY).",
                )
            ]
            assert await third.recv() == ("close", 4008)
        assert await connection_slots.slots_held(key_id=7) == 2
    assert await connection_slots.slots_held(key_id=7) == 0  # closed connections give them back
    async with massive(auth=False) as again:
        assert await again.auth(GOOD) == AUTHENTICATED


@asynctest
async def test_a_revoked_key_closes_its_massive_connections(market, keys):
    async with massive(key=GOOD) as client:
        await client.subscribe("T.SYNTH")
        await get_channel_layer().group_send("apikey.7", {"type": "apikey.revoked"})
        assert await client.recv() == [status("force_disconnect", "The API key was revoked.")]
        assert await client.recv() == ("close", 4008)
