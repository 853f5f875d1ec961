"""Backfill of tickers on an exchange calendar (``manage.py backfill``), with the market clock
moved to 2026-12-01 (``MARKET_CLOCK_OFFSET_SECONDS``): ticks only in the sessions' open periods,
as many as the calendar's open minutes at 10 a second, none on weekends or Thanksgiving, the
early close at 13:00; pre- and post-market periods with extended hours, at lower volume. And
the live generator and the ``generate`` command continue such a series across closures."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection

from ticks import calendars, live_configs
from ticks.calendars import POST, PRE, REGULAR
from ticks.generation import ticks_generate_steps
from ticks.live import ticks_generate
from ticks.market import to_ms
from ticks.models import Tick, Ticker, TickerState
from ticks.storage import tick_storage

from .live_helpers import replay

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
MARKET_NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 7:00 in New York, before the open
SESSIONS = [date(2026, 11, d) for d in (16, 17, 18, 19, 20, 23, 24, 25, 27, 30)]
START, END = datetime(2026, 11, 16, tzinfo=NY), datetime(2026, 12, 1, tzinfo=NY)


@pytest.fixture
def market_clock(settings):
    """Market time = 2026-12-01 12:00 UTC, whatever the wall clock says."""
    settings.MARKET_CLOCK_OFFSET_SECONDS = (MARKET_NOW - datetime.now(UTC)).total_seconds()


def make_ticker(symbol: str, seed: int, *, extended: bool = False, interval: int = 100) -> Ticker:
    return Ticker.objects.create(
        symbol=symbol,
        name=symbol,
        sector="Technology",
        start_price=100,
        drift=0.05,
        volatility=0.3,
        min_price=10,
        max_price=1000,
        tick_interval_ms=interval,
        seed=seed,
        calendar="XNYS",
        extended_hours=extended,
    )


def query(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def periods(extended: bool):
    return calendars.open_periods(
        "XNYS",
        extended_hours=extended,
        start=START,
        end=END,
    )


def outside_periods(ticker: Ticker, extended: bool) -> int:
    """Ticks of the ticker in none of the calendar's open periods."""
    values = ", ".join(["(%s::timestamptz, %s::timestamptz)"] * len(periods(extended)))
    bounds = [moment for p in periods(extended) for moment in (p.start, p.end)]
    return query(
        f"""SELECT count(*) FROM ticks_tick t WHERE t.ticker_id = %s AND NOT EXISTS (
                SELECT 1 FROM (VALUES {values}) AS p(s, e) WHERE t.time >= p.s AND t.time < p.e)""",
        [ticker.pk, *bounds],
    )[0][0]


@pytest.mark.slow
def test_a_fortnight_of_xnys_backfilled_only_inside_its_sessions(market_clock, live_redis):
    regular = make_ticker("NYSE1", 101)
    extended = make_ticker("NYSE2", 102, extended=True, interval=5000)
    # New York's 2026-11-16 to 2026-11-30 (the market clock makes that the last fortnight)
    call_command("backfill", days=15, end=END.isoformat(), tickers="NYSE1,NYSE2", no_progress=True)

    # regular hours: the calendar's open minutes x 600 ticks, seq consecutive, on the grid
    minutes = sum((p.end - p.start) / timedelta(minutes=1) for p in periods(False))
    assert minutes == 9 * 390 + 210
    count, low, high = query(
        "SELECT count(*), min(seq), max(seq) FROM ticks_tick WHERE ticker_id = %s", [regular.pk]
    )[0]
    assert count == minutes * 600 and high - low + 1 == count and high == -1
    assert outside_periods(regular, False) == 0
    # one New York trading day per session: weekends and Thanksgiving empty, the early close
    days = query(
        """SELECT (time AT TIME ZONE 'America/New_York')::date, count(*), min(time), max(time)
           FROM ticks_tick WHERE ticker_id = %s GROUP BY 1 ORDER BY 1""",
        [regular.pk],
    )
    assert [d for d, *_ in days] == SESSIONS
    for day, n, first, last in days:
        close = 13 if day == date(2026, 11, 27) else 16
        assert first.astimezone(NY).time().isoformat() == "09:30:00"
        assert last.astimezone(NY) == datetime(day.year, day.month, day.day, close, tzinfo=NY) - (
            timedelta(milliseconds=100)
        )
        assert n == (210 if close == 13 else 390) * 600
    # the exact state at the newest tick, for the live market to continue from
    state = TickerState.objects.get(ticker=regular)
    assert state.seq == -1 and state.time == datetime(2026, 11, 30, 20, 59, 59, 900000, tzinfo=UTC)

    # extended hours: pre- and post-market present (every period's grid), at lower volume
    total = sum((p.end - p.start) / timedelta(seconds=5) for p in periods(True))
    assert Tick.objects.filter(ticker=extended).count() == total
    assert outside_periods(extended, True) == 0
    volume = {}
    for p in periods(True):
        n, v = query(
            "SELECT count(*), avg(volume) FROM ticks_tick WHERE ticker_id = %s AND time >= %s "
            "AND time < %s",
            [extended.pk, p.start, p.end],
        )[0]
        assert n == (p.end - p.start) / timedelta(seconds=5)
        volume.setdefault(p.kind, []).append(float(v))
    assert len(volume[PRE]) == len(volume[POST]) == len(volume[REGULAR]) == 10
    regular_volume = sum(volume[REGULAR]) / 10
    for kind in (PRE, POST):
        assert sum(volume[kind]) / 10 < 0.4 * regular_volume

    # the live market continues from the newest tick: nothing while closed, then the open
    Ticker.objects.exclude(pk=regular.pk).update(is_active=False)
    live_configs.reset_config_cache()
    before_open = datetime(2026, 12, 1, 14, 29, 59, tzinfo=UTC)
    assert ticks_generate(now=before_open).ticks == 0
    opened = datetime(2026, 12, 1, 14, 30, 0, 250000, tzinfo=UTC)
    report = ticks_generate(now=opened)
    assert report.ticks == 3 and not report.gaps  # 9:30:00.0, .1, .2: no catch-up skip
    first = replay(live_redis, "NYSE1")
    assert [t["seq"] for t in first] == [0, 1, 2]
    assert first[0]["timestamp"] == to_ms(datetime(2026, 12, 1, 14, 30, tzinfo=UTC))


def test_generate_command_skips_closed_time_and_uses_the_market_clock(market_clock, live_redis):
    """``generate`` at market now (2026-12-01 7:00 New York) from a state at the last close: no
    tick is due; the same from a state just before the previous close: the ticks up to it."""
    ticker = make_ticker("NYSE3", 103, interval=1000)
    Ticker.objects.exclude(pk=ticker.pk).update(is_active=False)
    close = datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
    tick_storage().ensure_room(connection, start=close - timedelta(days=1), end=close)
    Tick.objects.create(
        ticker=ticker,
        time=close - timedelta(seconds=10),
        seq=5,
        price=100,
        bid=99,
        ask=101,
        volume=1,
    )
    result = ticks_generate_steps(now=datetime(2026, 12, 1, 12, tzinfo=UTC), max_steps=1000)
    assert result.per_ticker == {"NYSE3": 9}  # 20:59:51 .. 20:59:59, nothing after the close
    times = list(Tick.objects.filter(ticker=ticker).order_by("time").values_list("time", flat=True))
    assert times[-1] == close - timedelta(seconds=1)
    again = ticks_generate_steps(now=datetime(2026, 12, 1, 14, 0, tzinfo=UTC), max_steps=1000)
    assert again.per_ticker == {"NYSE3": 0}
    # and the command itself reads the market clock: at 7:00 New York nothing is due either
    call_command("generate", steps=10)
    assert Tick.objects.filter(ticker=ticker).count() == 10
