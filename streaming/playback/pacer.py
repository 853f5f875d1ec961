"""When each event of a playback is due, at a speed that is a multiple of market time.

Market time ``start_ms`` is played at the moment the pacer starts; an event at market time
``t`` is due ``(t - start_ms) / speed`` seconds later (speed None: "max", everything is due at
once and only the client's reading paces the playback). Pausing stops the clock; resuming
moves it on by the time spent paused, so the rest plays at the same speed.

Closed hours are not waited through: when every ticker of the playback is on an exchange
calendar, the pace follows their open time only (``timeline``,
``ticks.market_clock.open_time``: market time with the periods when none of them trades taken
out), so an overnight closure, a weekend or a lunch break passes at once and the session's
first ticks follow its last ones by their open time. A 24/7 ticker among them keeps market time.

Gaps are skipped too: when more than ``GAP_SKIP_MS`` of (open) time passes without an event of
the playback (a halt, an outage of the generator), the next event is due at once instead of
after the gap. Within a session ticks come every ``tick_interval_ms`` (at most a minute), so
the live rhythm is played unchanged.
"""

import asyncio
import time

GAP_SKIP_MS = 5 * 60_000


class Pacer:
    def __init__(
        self, start_ms: int, speed: float | None, *, clock=time.monotonic, timeline=None
    ) -> None:
        self.speed = speed
        self.clock = clock
        self.timeline = timeline  # ticks.market_clock.OpenTime, or None: market time
        self._origin_wall = clock()
        self._origin_ms = self._paced(start_ms)
        self._last_ms = self._origin_ms
        self._running = asyncio.Event()
        self._running.set()
        self._changed = asyncio.Event()
        self._paused_at: float | None = None

    def follow(self, timeline) -> None:
        """Pace by ``timeline`` (``OpenTime``; None: market time) from now on; called before
        the first event is asked for."""
        start_ms = self._origin_ms if self.timeline is None else self.timeline.start_ms
        self.timeline = timeline
        self._origin_wall = self.clock()
        self._origin_ms = self._last_ms = self._paced(start_ms)

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self.clock()
            self._running.clear()
            self._changed.set()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._origin_wall += self.clock() - self._paused_at
            self._paused_at = None
            self._running.set()
            self._changed.set()

    def _paced(self, at_ms: int) -> int:
        """``at_ms`` on the time the pace follows (open time, or market time)."""
        return at_ms if self.timeline is None else self.timeline.elapsed(at_ms)

    def due(self, at_ms: int) -> float:
        """The wall-clock time (``clock``) at which market time ``at_ms`` is due; called in time
        order (a gap is skipped the first time an event after it is asked for)."""
        at_ms = self._paced(at_ms)
        if at_ms > self._last_ms:
            if at_ms - self._last_ms > GAP_SKIP_MS and self.speed is not None:
                # Rebase: the event after the gap is due when the last one before it was.
                self._origin_wall += (self._last_ms - self._origin_ms) / self.speed / 1000
                self._origin_ms = at_ms
            self._last_ms = at_ms
        if self.speed is None:
            return self._origin_wall
        return self._origin_wall + (at_ms - self._origin_ms) / self.speed / 1000

    async def wait(self, at_ms: int) -> None:
        """Return once ``at_ms`` is due and the playback is not paused."""
        while True:
            if not self._running.is_set():
                await self._running.wait()
                continue
            if self.speed is None:
                return
            delay = self.due(at_ms) - self.clock()
            if delay <= 0:
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), delay)
            except TimeoutError:
                pass
