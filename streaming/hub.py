"""Per-process fan-out of the market stream to this process's WebSocket connections.

One hub per server process (per event loop) joins the ``ticks.all``, ``bars.all`` and
``status.all`` groups
with a single channel of its own, so with channels-redis's pub/sub layer the process holds one
Redis subscription per group however many clients it serves, and a generation cycle costs the
publisher one ``PUBLISH`` whatever the number of clients. Each message is decoded once and each
tick and bar encoded to JSON once per process; the hub then hands the cycle to every registered
session, which picks its tickers and puts ready-made frames in its own bounded outbox. Nothing
here awaits a client.

``ready()`` returns once the group subscriptions are live in Redis (proven by a probe message
sent through the layer after them), which is what makes the replay seam exact: a session
registers, waits for ``ready()``, and only then reads its snapshot, so every tick committed
after the snapshot is also delivered live.
"""

import asyncio
import logging
import uuid
import weakref

from channels.layers import get_channel_layer

from .protocol import Frame, bar_frame, encode, status_frame, tick_frame, ticks_frame
from .publish import ALL_BARS_GROUP, ALL_STATUS_GROUP, ALL_TICKS_GROUP

logger = logging.getLogger(__name__)

PROBE_WAIT_S = 0.25


class Cycle:
    """One published batch of ticks, with its frames built lazily and at most once."""

    __slots__ = ("ticks", "jsons", "_frames", "_batches", "ext")

    def __init__(self, ticks: list[dict]) -> None:
        self.ticks = ticks
        self.jsons = [encode(t) for t in ticks]
        self._frames: list[Frame] | None = None
        self._batches: dict[tuple[int, ...], Frame] = {}
        self.ext: dict = {}  # other dialects' views of the cycle, each built once (by its name)

    @property
    def frames(self) -> list[Frame]:
        """A ``tick`` frame per tick."""
        if self._frames is None:
            self._frames = [tick_frame(j) for j in self.jsons]
        return self._frames

    def batch(self, indices: tuple[int, ...]) -> Frame:
        """A ``ticks`` frame of the given ticks; sessions wanting the same ones share it."""
        frame = self._batches.get(indices)
        if frame is None:
            frame = self._batches[indices] = ticks_frame(self.jsons[i] for i in indices)
        return frame


class BarUpdate:
    __slots__ = ("bars", "frames", "ext")

    def __init__(self, bars: list[dict]) -> None:
        self.bars = bars
        self.frames = [bar_frame(encode(b)) for b in bars]
        self.ext: dict = {}


class _Link:
    """One subscription of the hub to the layer: its channel, reader task and probe."""

    __slots__ = ("channel", "reader", "probe", "probed")

    def __init__(self) -> None:
        self.channel: str | None = None
        self.reader: asyncio.Task | None = None
        self.probe: str | None = None
        self.probed: asyncio.Future | None = None


class Hub:
    def __init__(self, layer) -> None:
        self.layer = layer
        self.sessions: set = set()
        # Process-wide state of a dialect (the Alpaca stream's minute-bar closes): objects with
        # any of on_bars(update), on_statuses(statuses) and reset(), told before the sessions.
        self.observers: dict[str, object] = {}
        self._link: _Link | None = None
        self._start: asyncio.Task | None = None

    def observer(self, name: str, factory):
        """The hub's observer called ``name``, made by ``factory(hub)`` the first time."""
        found = self.observers.get(name)
        if found is None:
            found = self.observers[name] = factory(self)
        return found

    def add(self, session) -> None:
        self.sessions.add(session)

    def discard(self, session) -> None:
        """Forget a session; the last one out unsubscribes the process from the groups."""
        self.sessions.discard(session)
        if not self.sessions and self._start is not None:
            start, link = self._start, self._link
            self._start = self._link = None
            for observer in self.observers.values():  # what they saw may be stale next time
                if hasattr(observer, "reset"):
                    observer.reset()
            asyncio.get_running_loop().create_task(self._stop(start, link))

    async def ready(self) -> None:
        failed = (
            self._start is not None
            and self._start.done()
            and (self._start.cancelled() or self._start.exception() is not None)
        )
        if self._start is None or failed:
            if failed:
                asyncio.get_running_loop().create_task(self._stop(self._start, self._link))
            self._link = _Link()
            self._start = asyncio.get_running_loop().create_task(self._subscribe(self._link))
        await asyncio.shield(self._start)

    async def _subscribe(self, link: _Link) -> None:
        layer, loop = self.layer, asyncio.get_running_loop()
        link.channel = channel = await layer.new_channel("hub.")
        # One receive always pending, never cancelled but to stop (channels-redis's pub/sub
        # layer drops a channel whose receive is cancelled).
        link.reader = loop.create_task(self._read(channel, link))
        await layer.group_add(ALL_TICKS_GROUP, channel)
        await layer.group_add(ALL_BARS_GROUP, channel)
        await layer.group_add(ALL_STATUS_GROUP, channel)
        # A probe published to a group subscribed after those two: once it comes back, the
        # subscriptions before it are live too (one connection, commands in order).
        link.probe = f"hub.probe.{uuid.uuid4().hex}"
        link.probed = loop.create_future()
        await layer.group_add(link.probe, channel)
        try:
            while True:
                await layer.group_send(link.probe, {"type": "hub.probe", "probe": link.probe})
                done, _ = await asyncio.wait([link.probed], timeout=PROBE_WAIT_S)
                if done:
                    break
        finally:
            await layer.group_discard(link.probe, channel)

    async def _read(self, channel: str, link: _Link) -> None:
        receive = self.layer.receive
        while True:
            try:
                message = await receive(channel)
                if message.get("type") == "hub.probe":
                    if message.get("probe") == link.probe and not link.probed.done():
                        link.probed.set_result(True)
                    continue
                for observer in list(self.observers.values()):
                    prepare = getattr(observer, "prepare", None)
                    if prepare is not None:  # e.g. what a dialect must read first
                        await prepare(message)
                self.dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the market stream hub failed on a message; continuing")
                await asyncio.sleep(0.1)

    def dispatch(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "market.ticks":
            cycle = Cycle(message["ticks"])
            for session in list(self.sessions):
                session.on_ticks(cycle)
        elif kind == "market.bars":
            update = BarUpdate(message["bars"])
            for observer in list(self.observers.values()):
                if hasattr(observer, "on_bars"):
                    observer.on_bars(update)
            for session in list(self.sessions):
                session.on_bars(update)
        elif kind == "market.statuses":
            for observer in list(self.observers.values()):
                if hasattr(observer, "on_statuses"):
                    observer.on_statuses(message["statuses"])
            frames = [(s, status_frame(s)) for s in message["statuses"]]
            for session in list(self.sessions):
                take = getattr(session, "on_statuses", None)
                if take is not None:  # /ws sessions: a ``status`` message per ticker
                    take(frames)

    async def _stop(self, start: asyncio.Task, link: _Link | None) -> None:
        if link is None:
            return
        for task in (start, link.reader):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        if link.channel is None:
            return
        try:
            await self.layer.group_discard(ALL_TICKS_GROUP, link.channel)
            await self.layer.group_discard(ALL_BARS_GROUP, link.channel)
            await self.layer.group_discard(ALL_STATUS_GROUP, link.channel)
        except Exception:
            logger.warning("leaving the market groups failed", exc_info=True)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """This event loop's hub, on the current channel layer."""
    loop = asyncio.get_running_loop()
    layer = get_channel_layer()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = Hub(layer)
    return hub
