"""Alpaca messages of one send, encoded once per process and encoding, shared by every
connection that wants the same ones (``streaming.batches.Batch``).

A ``Batch`` holds the messages of one generation cycle (a trade and a quote per tick), one bar
refresh (closed and updated minute bars), one daily-bar read or one status change. Each message
is encoded at most once per encoding (JSON, msgpack), and the array frame of a given selection
of them at most once too: connections subscribed alike share one frame, as ``/ws`` connections
share a cycle's frames. ``FAKEPACA`` on the test feed is a copy of the aliased ticker's
messages under that name, made (and encoded) once per batch when someone wants it.
"""

from collections.abc import Callable

from ticks.alpaca_shapes import (
    bar_fields,
    quote_fields,
    trade_fields,
    trading_status_fields,
)
from ticks.payloads import BarPayload, StatusPayload

from ..batches import Batch, sized_ticks
from ..minute_bars import bar_payload

__all__ = ["Batch", "Item", "bar_item", "bar_payload", "status_item", "tick_batch"]


class Item:
    """One message: its channel, symbol, type ``T``, time (epoch ms) and its fields, given the
    time field as the encoding writes it."""

    __slots__ = ("channel", "symbol", "kind", "time_ms", "fields")

    def __init__(
        self, channel: str, symbol: str, kind: str, time_ms: int, fields: Callable[[object], dict]
    ) -> None:
        self.channel, self.symbol, self.kind = channel, symbol, kind
        self.time_ms, self.fields = time_ms, fields

    def message(self, codec) -> dict:
        return {"T": self.kind, "S": self.symbol, **self.fields(codec.time(self.time_ms))}

    def renamed(self, symbol: str) -> "Item":
        return Item(self.channel, symbol, self.kind, self.time_ms, self.fields)


def tick_batch(ticks: list[dict], seed_of: Callable[[str], int | None]) -> Batch:
    """A trade and a quote for each tick of a published cycle (``/ws`` tick dicts), in order.
    A tick whose ticker's seed is unknown has no quote (its sizes cannot be computed)."""
    payloads, sizes = sized_ticks(ticks, seed_of)
    items: list[Item] = []
    for i, tick in enumerate(payloads):
        items.append(
            Item("trades", tick.ticker, "t", tick.time_ms, lambda t, k=tick: trade_fields(k, t))
        )
        if i in sizes:
            bid, ask = sizes[i]
            items.append(
                Item(
                    "quotes",
                    tick.ticker,
                    "q",
                    tick.time_ms,
                    lambda t, k=tick, b=bid, a=ask: quote_fields(k, t, b, a),
                )
            )
    return Batch(items)


def bar_item(channel: str, kind: str, bar: BarPayload) -> Item:
    return Item(channel, bar.ticker, kind, bar.time_ms, lambda t: bar_fields(bar, t))


def status_item(status: StatusPayload) -> Item:
    return Item(
        "statuses", status.ticker, "s", status.time_ms, lambda t: trading_status_fields(status, t)
    )
