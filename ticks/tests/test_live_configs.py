"""The generator's ticker-config cache (ticks.live_configs): reloaded in the background, never on the cycle's path."""

from datetime import UTC, timedelta

import pytest
from django.db import OperationalError

from ticks.config_version import bump_config_version
from ticks.live import ticks_generate
from ticks.models import Ticker

pytestmark = pytest.mark.django_db
UTC = UTC


def test_generation_continues_on_cached_configs_when_the_database_is_down(
    live_redis, t0, monkeypatch
):
    ticks_generate(now=t0)
    bump_config_version()  # forces a reload, which fails

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    calls = []
    monkeypatch.setattr(Ticker.objects, "filter", lambda *a, **k: calls.append(1) or down())
    report = ticks_generate(now=t0 + timedelta(seconds=1))
    assert report.ticks == 50
    # The database is not asked again on every beat while it is down.
    for k in range(2, 12):
        ticks_generate(now=t0 + timedelta(seconds=1, milliseconds=100 * k))
    assert len(calls) == 1


def test_with_no_active_ticker_the_database_is_not_read_every_beat(live_redis, t0, monkeypatch):
    Ticker.objects.update(is_active=False)
    assert ticks_generate(now=t0).skipped == "no active tickers"
    calls = []
    real_filter = Ticker.objects.filter
    monkeypatch.setattr(
        Ticker.objects, "filter", lambda *a, **k: calls.append(1) or real_filter(*a, **k)
    )
    for k in range(1, 11):
        ticks_generate(now=t0 + timedelta(milliseconds=100 * k))
    assert calls == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_hung_config_reload_never_delays_a_cycle(live_redis, t0, monkeypatch, settings):
    """The reload runs in a background thread: while the database answers nothing, every cycle
    generates on the cached configs at once; the new configs apply once it answers."""
    import threading
    import time

    settings.GENERATION_CONFIG_RELOAD_S = 0.2
    ticks_generate(now=t0)  # the first configs: read by the cycle itself
    release = threading.Event()
    real_filter = Ticker.objects.filter
    monkeypatch.setattr(
        Ticker.objects, "filter", lambda *a, **k: release.wait(20) and real_filter(*a, **k)
    )
    bump_config_version()
    took = []
    try:
        for k in range(1, 11):
            started = time.monotonic()
            report = ticks_generate(now=t0 + timedelta(milliseconds=100 * k))
            took.append(time.monotonic() - started)
            assert report.ticks == 5
            time.sleep(0.1)
    finally:
        release.set()
    assert max(took) < 0.5, took
