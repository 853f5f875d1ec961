"""The ticker configurations the live generator runs on, cached per process.

Reloaded when the config version in Redis moves (or every ``GENERATION_CONFIG_RELOAD_S``) by a
background thread, so no beat waits on the database, even a hung one: the cycle keeps
generating with the configs it has until a reload succeeds.

The calendar tickers' trading sessions are loaded with the configs (``ticks.sessions``), for a
window around market now (``SESSIONS_BEHIND_MS`` back, ``SESSIONS_AHEAD_MS`` ahead); once
market now is ``SESSIONS_REFRESH_MS`` past the load, a background reload moves the window, long
before it runs out. So no cycle asks the calendar libraries anything (only a process's very
first load, which has no configs to generate with yet, reads them itself).
"""

import logging
import os
import threading
import time
from dataclasses import dataclass, field

import redis
from django.conf import settings
from django.db import DatabaseError, connection

from . import engine
from .events import event_schedule, halts_publish
from .market import market_config, ticker_params
from .market_time import market_now_ms
from .models import Ticker
from .sessions import session_schedule

logger = logging.getLogger(__name__)

CONFIG_RETRY_S = 1.0  # after a failed reload, try again this often (not every beat)
DAY_MS = 86_400_000
SESSIONS_BEHIND_MS = 8 * DAY_MS  # (plus MAX_CATCHUP_SECONDS: the oldest state caught up on)
SESSIONS_AHEAD_MS = 14 * DAY_MS
SESSIONS_REFRESH_MS = 7 * DAY_MS


@dataclass
class ConfigCache:
    version: int | None = None
    loaded_at: float = 0.0
    tickers: list[Ticker] = field(default_factory=list)
    params: engine.TickerParams | None = None
    market: engine.MarketConfig | None = None
    # scenario events of these tickers (``ticks.events``): the engine's schedule, the halts
    events: object = None
    halts: list = field(default_factory=list)
    # trading sessions of the calendar tickers (rows: positions in ``tickers``), and the market
    # time after which a reload moves their window
    sessions: engine.SessionSchedule | None = None
    sessions_until_ms: float = float("inf")


def _load_configs(version: int) -> ConfigCache:
    tickers = list(Ticker.objects.filter(is_active=True).order_by("pk"))
    cache = ConfigCache(
        version=version,
        loaded_at=time.monotonic(),
        tickers=tickers,
        params=ticker_params(tickers) if tickers else None,
        market=market_config(),
    )
    cache.events, cache.halts = event_schedule(tickers)
    now_ms = market_now_ms()
    behind = SESSIONS_BEHIND_MS + settings.MAX_CATCHUP_SECONDS * 1000
    cache.sessions = session_schedule(
        tickers, start_ms=now_ms - behind, end_ms=now_ms + SESSIONS_AHEAD_MS
    )
    if not cache.sessions.is_empty():
        cache.sessions_until_ms = now_ms + SESSIONS_REFRESH_MS
    try:
        halts_publish()  # the readers' copy (REST, freshness), also rebuilt after Redis lost it
    except redis.RedisError:
        logger.warning("could not publish the halts to Redis; the next reload tries again")
    logger.info("loaded %d active ticker config(s) (version %s)", len(tickers), version)
    return cache


class _Reloader:
    """Reloads the configs in a background thread of the generator's process, so a cycle never
    waits on the database: the cycle keeps generating with the configs it has until a reload
    succeeds, however long the database takes (down, or hung and answering nothing)."""

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._wanted: int | None = None
        self._pid: int | None = None
        self._failed_at = 0.0

    def request(self, version: int) -> None:
        with self._lock:
            if self._wanted == version:
                return
            self._wanted = version
            if self._pid != os.getpid():  # none yet in this process (or a forked child)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="config-reload", daemon=True).start()
        self._wake.set()

    def _run(self) -> None:
        global _cache
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                version = self._wanted
            try:
                _cache = _load_configs(version)
            except DatabaseError:
                logger.warning(
                    "database unavailable: generating with the cached ticker "
                    "configs; retrying in %.0f s",
                    CONFIG_RETRY_S,
                )
                time.sleep(CONFIG_RETRY_S)
            finally:
                connection.close()
                with self._lock:
                    self._wanted = None  # the next request asks again


_cache = ConfigCache()
_retry_at = 0.0  # in-transaction callers: after a failed reload, when to try the database again
_reloader = _Reloader()


def active_configs(version: int) -> ConfigCache:
    """Active tickers and engine params, from the process cache; when that is stale (the version
    moved, or ``GENERATION_CONFIG_RELOAD_S`` passed) a background reload is asked for and the
    cache answers meanwhile. Only a process that has no configs yet reads them itself, and a
    caller inside a transaction does (another thread could not see its rows)."""
    global _cache, _retry_at
    cache = _cache
    now = time.monotonic()
    stale = (
        cache.version != version
        or now - cache.loaded_at >= settings.GENERATION_CONFIG_RELOAD_S
        or market_now_ms() >= cache.sessions_until_ms
    )
    if not stale:
        return cache
    if cache.version is not None and not connection.in_atomic_block:
        _reloader.request(version)
        return cache
    if cache.version is not None and now < _retry_at:
        return cache
    try:
        _cache = cache = _load_configs(version)
    except DatabaseError:
        if cache.version is None:
            raise
        logger.warning("database unreachable: generating with the cached ticker configs")
        _retry_at = now + CONFIG_RETRY_S
    return cache


def reset_config_cache() -> None:
    global _cache, _retry_at
    _cache = ConfigCache()
    _retry_at = 0.0
