"""Live generation (ticks.live) of tickers on an exchange calendar, in process against the real
Redis and PostgreSQL, with the market clock moved (``MARKET_CLOCK_OFFSET_SECONDS``): a calendar
edit applies from the next cycle, nothing is generated while closed, the open is not a gap to
skip, and the generator's session window moves with market time."""

from datetime import UTC, datetime, timedelta

import pytest

from ticks import live_configs
from ticks.config_version import bump_config_version, config_version
from ticks.live import ticks_generate
from ticks.market import to_ms
from ticks.models import Ticker

from .live_helpers import replay

pytestmark = pytest.mark.django_db

OPEN = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)  # 9:30 in New York


@pytest.fixture
def market_at(settings):
    """Moves the market clock: market now = ``moment`` (plus the test's own run time)."""

    def move(moment: datetime) -> None:
        settings.MARKET_CLOCK_OFFSET_SECONDS = (moment - datetime.now(UTC)).total_seconds()

    return move


def ms(moment: datetime) -> int:
    return to_ms(moment)


def test_a_calendar_edit_applies_from_the_next_cycle(live_redis, market_at):
    market_at(OPEN - timedelta(seconds=2))
    ticks_generate(now=OPEN - timedelta(seconds=2))
    synth = Ticker.objects.get(symbol="SYNTH")
    synth.calendar = "XNYS"
    synth.save()
    bump_config_version()
    ticks_generate(now=OPEN - timedelta(milliseconds=1))  # closed: SYNTH waits, TECH goes on
    assert [t["seq"] for t in replay(live_redis, "SYNTH")] == [0]
    assert len(replay(live_redis, "TECH")) == 20
    ticks_generate(now=OPEN + timedelta(milliseconds=200))
    ticks = replay(live_redis, "SYNTH")
    assert [t["seq"] for t in ticks] == [0, 1, 2, 3]
    assert [t["timestamp"] for t in ticks[1:]] == [ms(OPEN) + k for k in (0, 100, 200)]
    # back to 24/7: from the next cycle, every grid point again
    synth.calendar = "24/7"
    synth.save()
    bump_config_version()
    ticks_generate(now=OPEN + timedelta(seconds=1))
    assert [t["seq"] for t in replay(live_redis, "SYNTH")] == list(range(12))


def test_the_open_after_a_night_is_no_gap_to_skip(live_redis, market_at, settings):
    settings.MAX_CATCHUP_SECONDS = 2  # (the settings fixture: undone with the clock's offset)
    close = datetime(2026, 11, 30, 21, tzinfo=UTC)
    market_at(close - timedelta(seconds=1))
    Ticker.objects.filter(symbol="HEALTH").update(calendar="XNYS")
    ticks_generate(now=close - timedelta(milliseconds=100))
    later = ticks_generate(now=close + timedelta(hours=2))  # the 24/7 tickers skip ahead
    assert set(later.gaps) == {"SYNTH", "TECH", "FINANCE", "ENERGY"}
    assert len(replay(live_redis, "HEALTH")) == 1
    market_at(OPEN)
    report = ticks_generate(now=OPEN + timedelta(milliseconds=100))
    assert "HEALTH" not in report.gaps and "SYNTH" in report.gaps
    ticks = replay(live_redis, "HEALTH")
    assert [t["seq"] for t in ticks] == [0, 1, 2]
    assert [t["timestamp"] for t in ticks] == [
        ms(close) - 100,
        ms(OPEN),
        ms(OPEN) + 100,
    ]


def test_the_session_window_moves_with_market_time(live_redis, market_at):
    market_at(OPEN)
    Ticker.objects.filter(symbol="FINANCE").update(calendar="XNYS", extended_hours=True)
    configs = live_configs.active_configs(config_version())
    row = [t.symbol for t in configs.tickers].index("FINANCE")
    assert configs.sessions.has_row(row) and configs.sessions.calendar_rows.tolist() == [row]
    until = configs.sessions_until_ms
    assert ms(OPEN) < until < ms(OPEN + timedelta(days=8))
    ends = configs.sessions.end_ms
    assert ends.max() > ms(OPEN + timedelta(days=14))
    assert live_configs.active_configs(config_version()) is configs  # fresh: no reload
    market_at(OPEN + timedelta(days=7, hours=1))
    moved = live_configs.active_configs(config_version())
    assert moved is not configs and moved.sessions_until_ms > until
    assert moved.sessions.end_ms.max() > ms(OPEN + timedelta(days=21))
