"""The playback loop, the same for every dialect: source -> pacer -> renderer -> outbox.

Back-pressure: the outbox (``streaming.outbox``) is bounded and closes a client that falls
``limit`` frames behind; a playback never gets near that. Before each group of frames it waits
until the outbox holds at most a quarter of its limit, and a group is never more than a quarter.
Under daphne with the fenced transport (``FAST_WS_DIRECT_WRITE``) frames wait in the outbox
exactly while Twisted holds the connection's buffer full, so a playback at "max" goes as fast as
the client reads; without it, ``PLAYBACK_MAX_RATE`` alone bounds it. That cap is for all the
playbacks of a process together (they share its budget) and holds at every speed, and the loop
yields to the event loop after every group of at most ``GROUP`` messages: live clients of the
process share it with the playbacks, whose cost to them is bounded by the cap.
"""

import asyncio
import time
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .pacer import Pacer
from .source import TICK, Event, PlaybackSource

GROUP = 100  # events per put at most (also bounded by a quarter of the outbox)


@dataclass
class Progress:
    ticks: int = 0
    bars: int = 0
    per_ticker: Counter = field(default_factory=Counter)
    last_ms: int | None = None  # market time of the last event sent

    def count(self, events: list[Event]) -> None:
        for event in events:
            if event.kind == TICK:
                self.ticks += 1
                self.per_ticker[event.payload.ticker] += 1
            else:
                self.bars += 1
        self.last_ms = events[-1].at_ms


class Player:
    """``render(events) -> frames``; ``outbox``: the connection's ``streaming.outbox.Outbox``."""

    def __init__(
        self,
        source: PlaybackSource,
        pacer: Pacer,
        outbox,
        render: Callable[[list[Event]], list],
        *,
        max_rate: float,
    ) -> None:
        self.source, self.pacer, self.outbox, self.render = source, pacer, outbox, render
        self.max_rate = max_rate
        self.progress = Progress()
        self._group = max(1, min(GROUP, outbox.limit // 4))

    async def run(self) -> Progress:
        """Play the whole range (cancel the task to stop it); returns what was sent."""
        pacer, outbox, size = self.pacer, self.outbox, self._group
        async for chunk in self.source.chunks():
            i, n = 0, len(chunk)
            while i < n:
                await pacer.wait(chunk[i].at_ms)
                j = i + 1
                if pacer.speed is None:
                    j = min(n, i + size)
                else:
                    now = pacer.clock()
                    while j < n and j - i < size and pacer.due(chunk[j].at_ms) <= now:
                        j += 1
                group = chunk[i:j]
                await self._room(len(group))
                if outbox.closed:
                    return self.progress
                outbox.put_many(self.render(group))
                self.progress.count(group)
                i = j
                await asyncio.sleep(0)  # let the live clients of the process have their turn
        return self.progress

    async def _room(self, count: int) -> None:
        """Wait until the outbox has room (the client read) and the process's playback budget
        allows ``count`` more messages."""
        outbox = self.outbox
        if len(outbox) > outbox.limit // 4:
            await outbox.wait_below(outbox.limit // 4)
        await _budget().take(count, self.max_rate)


class _Budget:
    """``PLAYBACK_MAX_RATE`` messages a second for all the playbacks of a process together: each
    takes what it sends and, past the budget, sleeps off its share of the debt."""

    def __init__(self) -> None:
        self.tokens = 0.0
        self.at = time.monotonic()

    async def take(self, count: int, rate: float) -> None:
        if rate <= 0:
            return
        now = time.monotonic()
        self.tokens = min(rate / 20, self.tokens + (now - self.at) * rate)  # bursts of 50 ms
        self.at = now
        self.tokens -= count
        if self.tokens < 0:
            await asyncio.sleep(-self.tokens / rate)


_budgets: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Budget]" = (
    weakref.WeakKeyDictionary()
)


def _budget() -> _Budget:
    loop = asyncio.get_running_loop()
    budget = _budgets.get(loop)
    if budget is None:
        budget = _budgets[loop] = _Budget()
    return budget
