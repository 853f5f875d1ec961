"""A connection's bounded queue of outgoing frames, and how frames leave it.

Nothing that produces frames ever waits for a client: the per-process hub and the consumer hand
frames to ``put``/``put_many`` and move on.

- Under daphne (``streaming.daphne_io.DirectWriter``), frames are written to the connection at
  once while its transport accepts them; when Twisted reports the transport's buffer full (the
  client is not reading fast enough) they wait here, and go out when it drains.
- Under any other server, a writer task hands them to the ASGI ``send``.

Either way, past ``limit`` queued frames the client gets ``slow_client`` and is closed, so what
the app holds per connection is bounded. A client that stops reading altogether is also cut off
by daphne's ping interval/timeout.

With a ``meter`` (``ticks.metrics.stream_meter``), the outbox counts its connection among the
protocol's open ones from ``start`` to ``close``, the frames it hands to the connection, and the
frames it discards (a slow client's queue, or what was still queued when the connection was cut
or closed): an integer addition per batch of frames, added to the Prometheus counters once a
second.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from .protocol import ErrorCode, Frame, error

logger = logging.getLogger(__name__)

# 4008: "policy violation" (1008) in the range a server may send: autobahn, under daphne, refuses
# any close code but 1000 and 3000-4999 (it raised inside the outbox task, and no close was sent).
SLOW_CLIENT_CLOSE_CODE = 4008


class Outbox:
    """``send``: the connection's ASGI send. ``direct``: optionally a writer with ``usable``,
    ``paused`` and ``write(frames)`` that puts frames on the wire itself; it calls ``wake()``
    when it can take frames again."""

    def __init__(
        self,
        send: Callable[[dict], Awaitable[None]],
        *,
        limit: int,
        direct=None,
        overflow_frame: Frame | None = None,
        overflow_close_code: int = SLOW_CLIENT_CLOSE_CODE,
        meter=None,
    ) -> None:
        self._send = send
        self._meter = meter
        self._counted = False  # among the meter's open connections
        self._overflow_close_code = overflow_close_code
        # What a slow client gets before it is closed (default: /ws's slow_client error).
        self._overflow_frame = overflow_frame
        self._direct = direct
        self.limit = limit
        self._frames: deque[Frame] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self.overflowed = False
        self.closed = False
        self._task: asyncio.Task | None = None
        if direct is not None:
            direct.attach(self)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        if self._meter is not None:
            self._meter.clients.inc()
            self._counted = True

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: Frame) -> None:
        self.put_many((frame,))

    def put_many(self, frames: Iterable[Frame]) -> None:
        if self.closed:
            return
        if not isinstance(frames, list | tuple):
            frames = list(frames)
        direct = self._direct
        if direct is not None and not self._frames and not direct.paused and direct.usable:
            direct.write(frames)
            if self._meter is not None:
                self._meter.sent.count += len(frames)
            return
        if len(self._frames) + len(frames) > self.limit:
            self.overflow(len(frames))
            return
        self._frames.extend(frames)
        self._wake.set()

    async def put_paced(self, frames: Iterable[Frame], *, chunk: int = 200) -> None:
        """Queue a long run of frames (a replay) without filling the queue: wait for it to
        drain after each chunk."""
        chunk = max(1, min(chunk, self.limit // 4))
        batch: list[Frame] = []
        for frame in frames:
            batch.append(frame)
            if len(batch) >= chunk:
                await self.wait_below(self.limit - 2 * chunk)
                self.put_many(batch)
                batch = []
        if batch:
            await self.wait_below(self.limit - 2 * chunk)
            self.put_many(batch)

    async def wait_below(self, level: int) -> None:
        while not self.closed and len(self._frames) > max(level, 0):
            self._drained.clear()
            await self._drained.wait()

    def wake(self) -> None:
        self._wake.set()

    def abort(self) -> None:
        """The connection is gone: drop what is queued, release whoever waits to queue more."""
        self.closed = True
        self._count_dropped(len(self._frames))
        self._frames.clear()
        self._wake.set()
        self._drained.set()

    def overflow(self, refused: int = 0) -> None:
        """The client fell ``limit`` frames behind: what is queued (and the ``refused`` frames
        that did not fit) is dropped, and it gets its protocol's slow-client message."""
        if self.closed:
            return
        logger.warning("closing a slow WebSocket client: %d frames queued", len(self._frames))
        self.overflowed = True
        self.closed = True
        self._count_dropped(len(self._frames) + refused)
        self._frames.clear()
        self._wake.set()

    async def _run(self) -> None:
        send, frames, meter = self._send, self._frames, self._meter
        try:
            while not self.closed:
                await self._wake.wait()
                self._wake.clear()
                while frames and not self.closed:
                    direct = self._direct
                    if direct is not None:
                        if direct.paused:
                            break  # its resume wakes us
                        if direct.usable:
                            batch = list(frames)
                            frames.clear()
                            direct.write(batch)
                            if meter is not None:
                                meter.sent.count += len(batch)
                            continue
                        self._direct = None  # this connection needs the ASGI path
                    await send(frames.popleft().asgi())
                    if meter is not None:
                        meter.sent.count += 1
                if not frames:
                    self._drained.set()
            if self.overflowed:
                last = self._overflow_frame or error(
                    ErrorCode.SLOW_CLIENT,
                    "the connection fell too far behind the stream and is closed; reconnect "
                    "and resubscribe with since to resume without a gap",
                )
                await send(last.asgi())
                await send({"type": "websocket.close", "code": self._overflow_close_code})
        finally:
            self._drained.set()

    def _count_dropped(self, count: int) -> None:
        if self._meter is not None and count:
            self._meter.dropped.count += count

    async def close(self) -> None:
        """Stop writing (the connection is gone)."""
        self.closed = True
        if self._counted:
            self._counted = False
            self._meter.clients.dec()
        self._wake.set()
        self._drained.set()
        if self._direct is not None:
            self._direct.detach()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._count_dropped(len(self._frames))  # still queued: never to be sent
        self._frames.clear()
