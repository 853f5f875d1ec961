"""One Alpaca stream connection's subscriptions, and the frames it takes from each batch.

Subscriptions are sets of symbols per channel, ``"*"`` being one of them (every ticker, also
ones added later); ``subscribe`` adds, ``unsubscribe`` removes, and the reply lists them all.
Symbols are taken as they are written (case-sensitive, as Alpaca's): any well-formed symbol is
accepted, a symbol we do not simulate simply has no data (Alpaca answers unknown symbols the same
way), so subscribing before a ticker is created in the admin works. On the ``test`` feed,
``FAKEPACA`` is the ticker ``ALPACA_FAKEPACA_TICKER`` under that name.
"""

from . import protocol
from .batches import Batch
from .fanout import AlpacaFanout
from .protocol import CHANNELS, WILDCARD, AlpacaError, Code, Subscribe, Unsubscribe

FAKEPACA = "FAKEPACA"


class AlpacaSession:
    def __init__(
        self, outbox, *, codec, hub, fanout: AlpacaFanout, alias: str | None, max_symbols: int
    ) -> None:
        self.outbox = outbox
        self.codec = codec
        self.hub = hub
        self.fanout = fanout
        self.alias = alias  # the ticker FAKEPACA stands for (test feed only)
        self.max_symbols = max_symbols
        self.subs: dict[str, dict[str, None]] = {c: {} for c in CHANNELS}  # ordered sets
        self._registered = False

    # --- client requests ----------------------------------------------------------------------

    async def subscribe(self, request: Subscribe) -> None:
        after = {c: dict(names) for c, names in self.subs.items()}
        for channel, symbols in request.channels.items():
            after[channel].update(dict.fromkeys(symbols))
        named = {s for names in after.values() for s in names}
        if len(named) > self.max_symbols:
            raise AlpacaError(Code.SYMBOL_LIMIT)
        self.subs = after
        if not self._registered:
            self.hub.add(self)
            self._registered = True
        await self.hub.ready()
        self._reply()

    async def unsubscribe(self, request: Unsubscribe) -> None:
        for channel, symbols in request.channels.items():
            for symbol in symbols:
                self.subs[channel].pop(symbol, None)
        self._reply()

    def _reply(self) -> None:
        self.outbox.put(
            protocol.subscription(self.codec, {c: list(names) for c, names in self.subs.items()})
        )

    # --- data from the hub (synchronous: the hub never waits for a client) -------------------

    def on_ticks(self, cycle) -> None:
        if self.subs["trades"] or self.subs["quotes"]:
            self.on_alpaca(self.fanout.ticks(cycle))

    def on_bars(self, update) -> None:
        """Minute bars come through the fanout (``on_alpaca``), once they close."""

    def on_alpaca(self, batch: Batch) -> None:
        frame = self.frame_for(batch)
        if frame is not None:
            self.outbox.put(frame)

    def frame_for(self, batch: Batch):
        """The frame of the messages of ``batch`` this connection wants (None: none)."""
        subs, alias = self.subs, self.alias
        wanted: list[int] = []
        for i, item in enumerate(batch.items):
            names = subs.get(item.channel)
            if not names:
                continue
            if WILDCARD in names or item.symbol in names:
                wanted.append(i)
            if alias is not None and item.symbol == alias and FAKEPACA in names:
                wanted.append(batch.alias(i, FAKEPACA))
        return batch.frame(self.codec, tuple(wanted)) if wanted else None

    async def close(self) -> None:
        if self._registered:
            self.hub.discard(self)
            self._registered = False
