from datetime import UTC

import pytest

from ticks import announce, live_configs
from ticks.redis_store import get_redis


def _clear_market_keys() -> None:
    from django.conf import settings

    r = get_redis()
    for name in r.scan_iter(match=f"{settings.MARKET_REDIS_PREFIX}:*", count=1000):
        r.delete(name)


@pytest.fixture
def live_redis():
    """The test prefix's market keys, empty before and after; fresh per-process config cache."""
    _clear_market_keys()
    live_configs.reset_config_cache()
    yield get_redis()
    _clear_market_keys()
    live_configs.reset_config_cache()


class Announced:
    """A ``ticks.announce`` listener that keeps what it hears."""

    def __init__(self) -> None:
        self.cycles: list[dict] = []
        self.bars: list = []
        self.revoked: list[int] = []

    def on_ticks(self, ticks_by_symbol) -> None:
        self.cycles.append({s: list(t) for s, t in ticks_by_symbol.items()})

    def on_bars(self, bars) -> None:
        self.bars.extend(bars)

    def on_keys_revoked(self, key_ids) -> None:
        self.revoked.extend(key_ids)


@pytest.fixture
def announced():
    """What the domain announces during the test (the registered listeners still run)."""
    listener = Announced()
    announce.register(listener)
    yield listener
    announce.unregister(listener)


@pytest.fixture
def t0():
    """A grid-aligned instant early today (so its day partition exists)."""
    from datetime import datetime

    return datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0)
