"""Messages of one send, encoded once per process and encoding, shared by every connection that
wants the same ones: the dialect-neutral part of the Alpaca (``streaming.alpaca``) and Massive
(``streaming.massive``) streams.

A ``Batch`` holds the messages of one generation cycle, one bar refresh or one status change.
Each message is encoded at most once per encoding, and the array frame of a given selection of
them at most once too: connections subscribed alike share one frame, as ``/ws`` connections
share a cycle's frames. Which messages a connection wants can be cached per batch too
(``select``): connections with the same subscriptions pick them once.

An item is any object with ``channel``, ``symbol``, ``message(codec) -> dict`` and, for copies
under another name (Alpaca's ``FAKEPACA``), ``renamed(symbol)``. A codec has a ``name``,
``piece(message) -> bytes`` and ``frame(pieces) -> Frame``.
"""

from collections.abc import Callable

from ticks.alpaca_shapes import tick_sizes
from ticks.payloads import TickPayload


class Batch:
    """``items``: the messages (fixed); copies under an alias get indices after them."""

    __slots__ = ("items", "_copies", "_pieces", "_frames", "_aliases", "_selections")

    def __init__(self, items: list) -> None:
        self.items = items
        self._copies: list = []
        self._pieces: dict[str, dict[int, bytes]] = {}
        self._frames: dict[tuple, object] = {}
        self._aliases: dict[tuple[int, str], int] = {}
        self._selections: dict[object, tuple[int, ...]] = {}

    def alias(self, index: int, symbol: str) -> int:
        """The index of message ``index`` under another symbol (made once)."""
        found = self._aliases.get((index, symbol))
        if found is None:
            self._copies.append(self.items[index].renamed(symbol))
            found = self._aliases[(index, symbol)] = len(self.items) + len(self._copies) - 1
        return found

    def _item(self, index: int):
        n = len(self.items)
        return self.items[index] if index < n else self._copies[index - n]

    def select(self, key, pick: Callable[["Batch"], tuple[int, ...]]) -> tuple[int, ...]:
        """``pick(self)``, computed once per ``key`` (a connection's subscriptions, hashable)."""
        found = self._selections.get(key)
        if found is None:
            found = self._selections[key] = pick(self)
        return found

    def frame(self, codec, indices: tuple[int, ...]):
        """The array of messages ``indices``, in ``codec``'s encoding."""
        key = (codec.name, indices)
        frame = self._frames.get(key)
        if frame is None:
            pieces = self._pieces.setdefault(codec.name, {})
            out = []
            for i in indices:
                piece = pieces.get(i)
                if piece is None:
                    piece = pieces[i] = codec.piece(self._item(i).message(codec))
                out.append(piece)
            frame = self._frames[key] = codec.frame(out)
        return frame


def _cents(value: float) -> int:
    return round(value * 100)


def sized_ticks(
    ticks: list[dict], seed_of: Callable[[str], int | None]
) -> tuple[list[TickPayload], dict[int, tuple[int, int]]]:
    """A published cycle's ticks (``/ws`` tick dicts) as the domain's payloads, and the quote
    sizes (bid, ask) of each by index, for the tickers whose seed is known
    (``ticks.alpaca_shapes.tick_sizes``: the same sizes in every dialect)."""
    payloads = [
        TickPayload(
            t["ticker"],
            _cents(t["price"]),
            t["volume"],
            _cents(t["bid"]),
            _cents(t["ask"]),
            t["timestamp"],
            t["seq"],
        )
        for t in ticks
    ]
    by_symbol: dict[str, list[int]] = {}
    for i, tick in enumerate(payloads):
        by_symbol.setdefault(tick.ticker, []).append(i)
    sizes: dict[int, tuple[int, int]] = {}
    for symbol, indices in by_symbol.items():
        seed = seed_of(symbol)
        if seed is None:
            continue
        bids, asks = tick_sizes(seed, [payloads[i] for i in indices])
        for i, bid, ask in zip(indices, bids, asks):
            sizes[i] = (bid, ask)
    return payloads, sizes
