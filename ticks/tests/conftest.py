import pytest

from ticks import live
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
    live.reset_config_cache()
    yield get_redis()
    _clear_market_keys()
    live.reset_config_cache()
