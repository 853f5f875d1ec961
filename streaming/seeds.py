"""The tickers' seeds in this process, which the vendor streams' quote sizes are computed from
(``ticks.alpaca_shapes.tick_sizes``), and the zones of their days (``ticks.session_days``: the
exchange's for a calendar ticker, UTC otherwise), which the Massive stream's day so far
follows. One ``Seeds`` per hub (``get_seeds``), shared by the Alpaca and Massive fan-outs.

Read from the database off the event loop (``READ_DEADLINE_S`` at most), once when first
needed, again when a cycle names a symbol not known yet (at most every ``MISS_RETRY_S``) and in
the background every ``TTL_S`` (a seed edited in the admin). A symbol whose seed cannot be read
(a process started while the database is down) streams its trades without quotes until it can:
a quote never goes out without its sizes.
"""

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.db import DatabaseError

from ticks.deadline import read_within
from ticks.selectors import ticker_seeds
from ticks.session_days import UTC_ZONE, ticker_zones

logger = logging.getLogger(__name__)

NAME = "seeds"

TTL_S = 60.0
MISS_RETRY_S = 5.0
READ_DEADLINE_S = 2.0


class Seeds:
    def __init__(self) -> None:
        self.known: dict[str, int] = {}
        self.zones: dict[str, str] = {}  # calendar tickers only
        self.loaded_at = 0.0
        self.tried_at = -MISS_RETRY_S
        self._task: asyncio.Task | None = None

    def get(self, symbol: str) -> int | None:
        return self.known.get(symbol)

    def zone(self, symbol: str) -> str:
        """The zone of ``symbol``'s days (UTC when unknown)."""
        return self.zones.get(symbol, UTC_ZONE)

    async def ensure(self, symbols) -> None:
        """Make sure the seeds of ``symbols`` are known, if the database can tell."""
        now = time.monotonic()
        missing = any(s not in self.known for s in symbols)
        if missing and now - self.tried_at >= MISS_RETRY_S:
            await self._refresh()
        elif self.loaded_at and now - self.loaded_at > TTL_S:
            self._refresh_soon()

    def _refresh_soon(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._load())

    async def _refresh(self) -> None:
        self._refresh_soon()
        await asyncio.shield(self._task)

    async def _load(self) -> None:
        self.tried_at = time.monotonic()
        try:
            seeds, zones = await sync_to_async(read_within, thread_sensitive=False)(
                _seeds_and_zones,
                key="stream-seeds",
                timeout=READ_DEADLINE_S,
                what="ticker seeds",
            )
        except DatabaseError:
            logger.warning("database unreachable: ticker seeds not refreshed")
            return
        self.known, self.zones = seeds, zones
        self.loaded_at = time.monotonic()


def _seeds_and_zones() -> tuple[dict[str, int], dict[str, str]]:
    return ticker_seeds(), ticker_zones(by_symbol=True)


def get_seeds(hub) -> Seeds:
    """The hub's ``Seeds`` (one per process: the vendor fan-outs share it)."""
    return hub.observer(NAME, lambda _hub: Seeds())
