"""Who may open /ws (streaming.auth, streaming.origins): API keys, dashboard tokens, revocation,
origins."""

import asyncio
import sys

import pytest
from channels.testing import WebsocketCommunicator

from streaming.protocol import ErrorCode

from .conftest import asynctest, receive_all, subscribe, tick, ws
from .ws_helpers import usable

pytestmark = pytest.mark.django_db


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
    assert error == {
        "type": "error",
        "code": ErrorCode.KEY_REVOKED,
        "message": "the API key of this connection was revoked",
    }
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
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYER_PREFIX,
        "MARKET_REDIS_PREFIX": settings.MARKET_REDIS_PREFIX,
    }

    @asynctest
    async def scenario():
        async with ws(f"/ws?api_key={raw}") as client, ws(f"/ws?api_key={kept}") as other:
            await usable(client)
            result = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", REVOKE_IN_ANOTHER_PROCESS],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip().splitlines()[-1] == "1"
            await closes_revoked(client)
            await usable(other)

    scenario()
