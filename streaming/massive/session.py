"""One Massive stream connection's subscriptions, and the frames it takes from each batch.

Subscriptions are sets of symbols per channel (``T``, ``Q``, ``A``, ``AM``), ``*`` being one of
them (every ticker, also ones added later); ``subscribe`` adds, ``unsubscribe`` removes, and
each topic named is answered with its own status (``subscribed to: T.SYNTH``). Symbols are
taken as written (case-sensitive): any well-formed symbol is accepted, one we do not simulate
simply has no data, so subscribing before a ticker is created in the admin works. At most
``max_symbols`` distinct symbols (``*`` counts as one) per connection.

Connections with the same subscriptions share the choice of messages of each batch and its
frame (``streaming.batches.Batch.select``).
"""

from . import protocol
from .fanout import MassiveFanout
from .protocol import CHANNELS, WILDCARD, MassiveError, Status, Subscribe, Unsubscribe


def _picker(subs: dict[str, frozenset[str]]):
    def pick(batch) -> tuple[int, ...]:
        wanted = []
        for i, item in enumerate(batch.items):
            names = subs.get(item.channel)
            if names and (WILDCARD in names or item.symbol in names):
                wanted.append(i)
        return tuple(wanted)

    return pick


class MassiveSession:
    def __init__(self, outbox, *, hub, fanout: MassiveFanout, max_symbols: int) -> None:
        self.outbox = outbox
        self.hub = hub
        self.fanout = fanout
        self.max_symbols = max_symbols
        self.subs: dict[str, dict[str, None]] = {c: {} for c in CHANNELS}  # ordered sets
        self._key: tuple = ()
        self._pick = _picker({})
        self._ticks = False
        self._registered = False

    # --- client requests ----------------------------------------------------------------------

    async def subscribe(self, request: Subscribe) -> None:
        after = {c: dict(names) for c, names in self.subs.items()}
        for channel, symbol in request.topics:
            after[channel][symbol] = None
        named = {s for names in after.values() for s in names}
        if len(named) > self.max_symbols:
            raise MassiveError(
                f"subscription limit exceeded: at most {self.max_symbols} tickers per "
                "connection; nothing subscribed"
            )
        self._set(after)
        if not self._registered:
            self.hub.add(self)
            self.fanout.join(self)
            self._registered = True
        await self.hub.ready()
        self._reply(request, "subscribed to")

    async def unsubscribe(self, request: Unsubscribe) -> None:
        after = {c: dict(names) for c, names in self.subs.items()}
        for channel, symbol in request.topics:
            after[channel].pop(symbol, None)
        self._set(after)
        self._reply(request, "unsubscribed to")

    def _set(self, subs: dict[str, dict[str, None]]) -> None:
        self.subs = subs
        frozen = {c: frozenset(names) for c, names in subs.items() if names}
        self._key = tuple(sorted(frozen.items(), key=lambda kv: kv[0]))
        self._pick = _picker(frozen)
        self._ticks = bool(subs["T"] or subs["Q"])

    def _reply(self, request: Subscribe | Unsubscribe, verb: str) -> None:
        messages = [
            protocol.status_message(Status.SUCCESS, f"{verb}: {protocol.topic(c, s)}")
            for c, s in request.topics
        ]
        messages += [
            protocol.status_message(Status.ERROR, protocol.invalid_topic_message(t))
            for t in request.invalid
        ]
        if messages:
            self.outbox.put(protocol.statuses(*messages))

    # --- data from the hub (synchronous: the hub never waits for a client) -------------------

    def on_ticks(self, cycle) -> None:
        if self._ticks:
            self.on_massive(self.fanout.ticks(cycle))

    def on_bars(self, update) -> None:
        """Minute aggregates come through the fanout (``on_massive``), once closed."""

    def on_massive(self, batch) -> None:
        frame = self.frame_for(batch)
        if frame is not None:
            self.outbox.put(frame)

    def frame_for(self, batch):
        """The frame of the messages of ``batch`` this connection wants (None: none)."""
        if not self._key:
            return None
        indices = batch.select(self._key, self._pick)
        return batch.frame(protocol.JsonCodec, indices) if indices else None

    async def close(self) -> None:
        if self._registered:
            self.hub.discard(self)
            self.fanout.leave(self)
            self._registered = False
