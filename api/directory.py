"""The tickers, cached in the process and reloaded when their configuration version moves.

Every request names a ticker. The cache is checked against the version counter that ticker
saves bump (``ticks.config_version``, one Redis GET) at most once per generation cycle
(``GENERATE_INTERVAL_MS``: the generator reads the same counter every cycle), so an edit shows
here as soon as the generator applies it, and a lookup costs no query at all. A symbol that is not
cached is looked up in the database before being called unknown, so a new ticker is served at
once.

The version moves when a ticker edit commits, in every process. The process that makes the edit
also forgets its cache at once (``post_save``/``post_delete``), so that it never serves its own
edit stale, and if the edit is rolled back the reload simply reads the old rows again. Tests
whose rows are rolled back between them call ``directory.reset()`` in their fixtures.
"""

import re
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import redis
from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from ticks.config_version import config_version
from ticks.models import Ticker
from ticks.selectors import ticker_directory, ticker_id_by_symbol

SYMBOL = re.compile(r"[A-Z0-9.\-]{1,12}")


def version_check_seconds() -> float:
    """How old the cached version may get: one generation cycle (100 ms by default), so REST
    and the generator see an edit within the same cycle. A GET of one small key that often is
    nothing next to the requests it saves."""
    return settings.GENERATE_INTERVAL_MS / 1000


@dataclass(frozen=True, slots=True)
class TickerInfo:
    id: int
    symbol: str
    name: str
    sector: str
    start_price: Decimal
    drift: float
    volatility: float
    min_price: Decimal
    max_price: Decimal
    is_active: bool
    tick_interval_ms: int
    seed: int = 0  # the price path's seed (Alpaca quote sizes derive from it)
    calendar: str = "24/7"  # its trading calendar (ticks.calendars)
    extended_hours: bool = False


def _load() -> dict[str, TickerInfo]:
    return {row["symbol"]: TickerInfo(**row) for row in ticker_directory()}


class TickerDirectory:
    def __init__(self) -> None:
        # (version, tickers, monotonic time the version was last checked)
        self._state: tuple[int | None, dict[str, TickerInfo], float] = (None, {}, 0.0)
        self._lock = threading.Lock()

    def reset(self) -> None:
        self._state = (None, {}, 0.0)

    def _fresh(self) -> dict[str, TickerInfo] | None:
        """The cached tickers while their version needs no check, else None. No I/O."""
        version, tickers, checked = self._state
        if version is None or time.monotonic() - checked >= version_check_seconds():
            return None
        return tickers

    def _tickers(self, *, reload: bool = False) -> dict[str, TickerInfo]:
        if not reload and (fresh := self._fresh()) is not None:
            return fresh
        cached_version, tickers, _ = self._state
        now = time.monotonic()
        try:
            version = config_version()
        except redis.RedisError:
            return _load()
        if reload or version != cached_version:
            with self._lock:
                tickers = _load()
        self._state = (version, tickers, now)
        return tickers

    def cached(self, symbol: str) -> TickerInfo | None:
        """``get`` without any I/O: the ticker when the cache is fresh and holds it, else None
        (then ask ``get``, which may read Redis and the database)."""
        tickers = self._fresh()
        return None if tickers is None else tickers.get(symbol.strip().upper())

    def cached_all(self) -> list[TickerInfo] | None:
        """``all`` without any I/O, or None when the cache must be checked first."""
        tickers = self._fresh()
        return None if tickers is None else list(tickers.values())

    def all(self) -> list[TickerInfo]:
        return list(self._tickers().values())

    def get(self, symbol: str) -> TickerInfo | None:
        """The ticker named ``symbol`` (any case, surrounding blanks ignored), or None."""
        symbol = symbol.strip().upper()
        if not SYMBOL.fullmatch(symbol):
            return None
        info = self._tickers().get(symbol)
        if info is None and ticker_id_by_symbol(symbol=symbol) is not None:
            info = self._tickers(reload=True).get(symbol)
        return info


directory = TickerDirectory()


@receiver(post_save, sender=Ticker, dispatch_uid="api-directory-ticker-saved")
@receiver(post_delete, sender=Ticker, dispatch_uid="api-directory-ticker-deleted")
def _ticker_changed(sender, **kwargs) -> None:
    directory.reset()
