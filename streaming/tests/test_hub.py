"""Fan-out through the real channels-redis pub/sub layer: one Redis subscription per group per
process whatever the number of connections, and one publish per cycle."""

import asyncio

import pytest
from django.conf import settings

from streaming.hub import get_hub
from streaming.publish import ALL_TICKS_GROUP, _group_channel, publish_ticks
from ticks.redis_store import get_redis

from .conftest import asynctest, receive_all, subscribe, tick, ws

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_layer(market, settings):
    """The production layer (Redis pub/sub) under the test run's channel prefix."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": settings.CHANNEL_LAYER_PREFIX},
        }
    }
    return market


def subscriptions() -> dict[str, int]:
    r = get_redis()
    names = [c.decode() for c in r.pubsub_channels(f"{settings.CHANNEL_LAYER_PREFIX}*")]
    return {
        "channels": len(names),
        "ticks.all": dict(r.pubsub_numsub(_group_channel(ALL_TICKS_GROUP)))[
            _group_channel(ALL_TICKS_GROUP).encode()
        ],
    }


@asynctest
async def test_many_connections_share_one_subscription_and_one_publish(redis_layer):
    clients = []
    try:
        for i in range(20):
            client = await ws(welcome=True).__aenter__()
            clients.append(client)
            await subscribe(client, tickers=["SYNTH"] if i % 2 else "*")
        await get_hub().ready()
        # The process's hub: its own channel and the three market groups (ticks, bars, trading
        # statuses); nothing per client.
        assert subscriptions() == {"channels": 4, "ticks.all": 1}
        await asyncio.to_thread(publish_ticks, {"SYNTH": [tick("SYNTH", 1)]})
        for client in clients:
            assert await client.receive_json_from(timeout=5) == {
                "type": "tick",
                "data": tick("SYNTH", 1),
            }
    finally:
        for client in clients:
            await client.disconnect()
    await asyncio.sleep(0.2)  # the last one out unsubscribes the process
    assert subscriptions() == {"channels": 0, "ticks.all": 0}


@asynctest
async def test_a_subscribe_is_live_before_its_snapshot_is_read(redis_layer):
    """Right after ``subscribed`` (the hub confirmed its subscription with a probe), a
    publish reaches the client: nothing falls between the snapshot and the live stream."""
    async with ws() as client:
        await subscribe(client, tickers="SYNTH")
        assert await receive_all(client) == []
        await asyncio.to_thread(publish_ticks, {"SYNTH": [tick("SYNTH", 1)]})
        assert await client.receive_json_from(timeout=5) == {
            "type": "tick",
            "data": tick("SYNTH", 1),
        }
