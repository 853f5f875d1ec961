"""The ceiling of ``python -m bench ws``: a minimal ``websockets`` server subscribed to the
same Redis channel as daphne's hub, which encodes each tick once and ``broadcast()``s it."""

import asyncio
import logging
import time
import uuid


async def _ceiling(port: int, redis_url: str, channel: str) -> None:
    import orjson
    import redis.asyncio as aioredis
    from channels_redis.serializers import registry
    from websockets.asyncio.server import broadcast, serve
    from websockets.exceptions import ConnectionClosed

    clients: set = set()
    decode = registry.get_serializer("msgpack").deserialize  # as the pub/sub layer encodes

    async def handler(ws) -> None:
        try:
            await ws.send(
                orjson.dumps(
                    {
                        "type": "connected",
                        "clientId": uuid.uuid4().hex,
                        "timestamp": int(time.time() * 1000),
                    }
                ).decode()
            )
            async for _ in ws:  # any message is taken as the subscribe to everything
                await ws.send(
                    '{"type":"subscribed","tickers":["ENERGY","FINANCE","HEALTH","SYNTH","TECH"]}'
                )
                clients.add(ws)
        except ConnectionClosed:
            pass
        finally:
            clients.discard(ws)

    async with serve(
        handler, "127.0.0.1", port, compression=None, ping_interval=5, ping_timeout=10, backlog=1024
    ):
        pubsub = aioredis.Redis.from_url(redis_url).pubsub()
        await pubsub.subscribe(channel)
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            for tick in decode(message["data"])["ticks"]:
                broadcast(clients, '{"type":"tick","data":' + orjson.dumps(tick).decode() + "}")


def ceiling_main(port: int, redis_url: str, channel: str) -> None:
    # broadcast() to clients the load generator has just closed makes asyncio warn once per
    # write ("socket.send() raised exception."): thousands of lines that say nothing here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    asyncio.run(_ceiling(port, redis_url, channel))
