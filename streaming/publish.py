"""The one place that publishes market data to the channel layer.

It owns the group names and the wire shapes of the WebSocket ``tick`` and ``bar`` data (numbers
as JSON numbers, times in epoch milliseconds; see ``streaming.protocol``). The domain announces
new ticks and bars as exact payloads (``ticks.payloads``, through ``ticks.announce``);
``StreamPublisher``, registered by ``StreamingConfig.ready()``, turns them into these shapes and
publishes them. Nothing else builds a group name by hand.
"""

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping, Sequence

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from ticks.payloads import SESSION_STATUSES, BarPayload, StatusPayload, TickPayload

from .fenced import channels_redis_publish as layer_fastpath

logger = logging.getLogger(__name__)

ALL_TICKS_GROUP = "ticks.all"
ALL_BARS_GROUP = "bars.all"
ALL_STATUS_GROUP = "status.all"  # tickers' trading status and session changes (Alpaca's "s")
_SAFE = re.compile(r"[^A-Za-z0-9.\-]")  # group names allow [A-Za-z0-9._-]

# The Redis channel of a group on the pub/sub layer (bench/ws.py and tests watch it).
_group_channel = layer_fastpath.group_channel


def ticks_group(symbol: str) -> str:
    return "ticks." + _SAFE.sub("_", symbol)


def bars_group(symbol: str) -> str:
    return "bars." + _SAFE.sub("_", symbol)


def tick_data(
    *,
    ticker: str,
    price_cents: int,
    volume: int,
    bid_cents: int,
    ask_cents: int,
    time_ms: int,
    seq: int,
) -> dict:
    """A tick as sent to clients: numbers as numbers, time in epoch milliseconds (the same
    text as the live store's record, ``ticks.live_store.tick_record``)."""
    return {
        "ticker": ticker,
        "price": price_cents / 100,
        "volume": int(volume),
        "bid": bid_cents / 100,
        "ask": ask_cents / 100,
        "timestamp": int(time_ms),
        "seq": int(seq),
    }


def tick_wire(tick: TickPayload) -> dict:
    """``tick_data`` of a domain tick."""
    ticker, price_cents, volume, bid_cents, ask_cents, time_ms, seq = tick  # fast on a tuple
    return {
        "ticker": ticker,
        "price": price_cents / 100,
        "volume": volume,
        "bid": bid_cents / 100,
        "ask": ask_cents / 100,
        "timestamp": time_ms,
        "seq": seq,
    }


def bar_wire(bar: BarPayload) -> dict:
    """A bar as sent to clients (the ``bar`` data): prices as numbers, ``time`` in epoch ms."""
    return {
        "ticker": bar.ticker,
        "timeframe": bar.timeframe,
        "time": bar.time_ms,
        "open": float(bar.open),
        "high": float(bar.high),
        "low": float(bar.low),
        "close": float(bar.close),
        "volume": bar.volume,
        "trade_count": bar.trade_count,
        "vwap": float(bar.vwap),
    }


def status_wire(status: StatusPayload) -> dict:
    """A trading status change as published: ``time`` in epoch ms; a session's status also has
    ``next_open`` and ``next_close`` (epoch ms or null)."""
    wire = {
        "ticker": status.ticker,
        "status": status.status,
        "reason": status.reason,
        "time": status.time_ms,
    }
    if status.status in SESSION_STATUSES:
        wire["next_open"] = status.next_open_ms
        wire["next_close"] = status.next_close_ms
    return wire


def status_messages(statuses: Iterable[dict]) -> list[tuple[str, dict]]:
    statuses = list(statuses)
    return (
        [(ALL_STATUS_GROUP, {"type": "market.statuses", "statuses": statuses})] if statuses else []
    )


async def _send_all(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(group, msg) for group, msg in messages))


def _send(messages: list[tuple[str, dict]]) -> None:
    """Publish group messages from synchronous code: through ``streaming.fenced.channels_redis_publish``
    when it applies (the pub/sub layer on the market's Redis), else the layer's public API."""
    layer = get_channel_layer()
    if layer_fastpath.usable(layer):
        layer_fastpath.send(layer, messages)
    else:
        async_to_sync(_send_all)(messages)


def tick_messages(ticks_by_symbol: Mapping[str, list[dict]]) -> list[tuple[str, dict]]:
    """One message per ticker group (its ticks of this cycle, in order) and one carrying the
    whole cycle for ``*`` subscribers (and the WebSocket hub of every server process)."""
    messages = [
        (ticks_group(symbol), {"type": "market.ticks", "ticks": ticks})
        for symbol, ticks in ticks_by_symbol.items()
        if ticks
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
    """Publish one generation cycle (``tick_data`` dicts). Failures are logged: the replay
    stream still has the ticks, and a connected client's session fills the gap from it when the
    next cycle arrives."""
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


def publish_statuses(statuses: Iterable[dict]) -> None:
    """Publish tickers' trading status changes (``status_wire`` dicts)."""
    messages = status_messages(statuses)
    if not messages:
        return
    try:
        _send(messages)
    except Exception:
        logger.warning("publishing %d status changes failed", len(messages), exc_info=True)


async def apublish(messages: list[tuple[str, dict]]) -> None:
    """The same from async code (tests, benchmarks): through the layer's public API."""
    await _send_all(messages)


class StreamPublisher:
    """The ``ticks.announce`` listener that puts announced ticks and bars on the stream."""

    def on_ticks(self, ticks_by_symbol: Mapping[str, Sequence[TickPayload]]) -> None:
        publish_ticks(
            {symbol: [tick_wire(t) for t in ticks] for symbol, ticks in ticks_by_symbol.items()}
        )

    def on_bars(self, bars: Sequence[BarPayload]) -> None:
        publish_bars([bar_wire(b) for b in bars])

    def on_statuses(self, statuses: Sequence[StatusPayload]) -> None:
        publish_statuses([status_wire(s) for s in statuses])

    def __repr__(self) -> str:
        return "streaming.publish.StreamPublisher"


publisher = StreamPublisher()
