"""The one place that publishes market data to the channel layer.

It owns the group names and the message shapes (DESIGN.md's WebSocket ``tick`` and ``bar``
data); producers (the generator, the rollup) call these functions and nothing else builds a
group name by hand.
"""

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

from ticks.redis_store import get_redis

logger = logging.getLogger(__name__)

ALL_TICKS_GROUP = "ticks.all"
ALL_BARS_GROUP = "bars.all"
_SAFE = re.compile(r"[^A-Za-z0-9.\-]")  # group names allow [A-Za-z0-9._-]


def ticks_group(symbol: str) -> str:
    return "ticks." + _SAFE.sub("_", symbol)


def bars_group(symbol: str) -> str:
    return "bars." + _SAFE.sub("_", symbol)


def tick_data(*, ticker: str, price_cents: int, volume: int, bid_cents: int, ask_cents: int,
              time_ms: int, seq: int) -> dict:
    """A tick as sent to clients: numbers as numbers, time in epoch milliseconds."""
    return {
        "ticker": ticker,
        "price": price_cents / 100,
        "volume": int(volume),
        "bid": bid_cents / 100,
        "ask": ask_cents / 100,
        "timestamp": int(time_ms),
        "seq": int(seq),
    }


async def _send_all(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(group, msg) for group, msg in messages))


def _group_channel(group: str) -> str:
    """The Redis pub/sub channel channels-redis's pub/sub layer uses for a group (pinned
    channels_redis 4.3; a test checks it against the layer's own naming)."""
    return f"{settings.CHANNEL_LAYER_PREFIX}__group__{group}"


def _fast_path_available(layer) -> bool:
    hosts = (getattr(layer, "_kwargs", None) or {}).get("hosts") or []
    return isinstance(layer, RedisPubSubChannelLayer) and hosts == [settings.REDIS_URL]


def _send(messages: list[tuple[str, dict]]) -> None:
    """Publish group messages from synchronous code.

    With the Redis pub/sub layer on our Redis, one pipeline asks which groups have listeners
    (``PUBSUB NUMSUB``) and a second publishes to those only: two round trips per generation
    cycle however many tickers there are, instead of one awaited round trip (and a fresh event
    loop and connection) per group. Any other layer goes through its public API.
    """
    layer = get_channel_layer()
    if not _fast_path_available(layer):
        async_to_sync(_send_all)(messages)
        return
    r = get_redis()
    channels = [_group_channel(group) for group, _ in messages]
    listeners = dict(r.pubsub_numsub(*channels))
    pipe = r.pipeline(transaction=False)
    for channel, (_, message) in zip(channels, messages):
        if listeners.get(channel.encode(), 0):
            pipe.publish(channel, layer.serialize(message))
    pipe.execute()


def tick_messages(ticks_by_symbol: Mapping[str, list[dict]]) -> list[tuple[str, dict]]:
    """One message per ticker group (its ticks of this cycle, in order) and one carrying the
    whole cycle for ``*`` subscribers (and the WebSocket hub of every server process)."""
    messages = [
        (ticks_group(symbol), {"type": "market.ticks", "ticks": ticks})
        for symbol, ticks in ticks_by_symbol.items() if ticks
    ]
    if messages:
        everything = [t for ticks in ticks_by_symbol.values() for t in ticks]
        messages.append((ALL_TICKS_GROUP, {"type": "market.ticks", "ticks": everything}))
    return messages


def bar_messages(bars: Iterable[dict]) -> list[tuple[str, dict]]:
    """Bar updates (``bar`` data shape), per ticker group and for ``*`` subscribers."""
    bars = list(bars)
    if not bars:
        return []
    by_symbol: dict[str, list[dict]] = {}
    for bar in bars:
        by_symbol.setdefault(bar["ticker"], []).append(bar)
    messages = [(bars_group(s), {"type": "market.bars", "bars": b}) for s, b in by_symbol.items()]
    messages.append((ALL_BARS_GROUP, {"type": "market.bars", "bars": bars}))
    return messages


def publish_ticks(ticks_by_symbol: Mapping[str, list[dict]]) -> None:
    """Publish one generation cycle. Failures are logged: the replay stream still has the
    ticks, and a connected client's session fills the gap from it when the next cycle arrives."""
    messages = tick_messages(ticks_by_symbol)
    if not messages:
        return
    try:
        _send(messages)
    except Exception:  # the live stream must never stop generation
        logger.warning("publishing %d tick messages failed", len(messages), exc_info=True)


def publish_bars(bars: Iterable[dict]) -> None:
    """Publish the 1m bars a rollup touched (the open bar's changes and its close)."""
    messages = bar_messages(bars)
    if not messages:
        return
    try:
        _send(messages)
    except Exception:
        logger.warning("publishing %d bar messages failed", len(messages), exc_info=True)


async def apublish(messages: list[tuple[str, dict]]) -> None:
    """The same from async code (tests, benchmarks): through the layer's public API."""
    await _send_all(messages)
