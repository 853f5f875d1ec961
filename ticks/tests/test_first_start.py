"""The history a first start fills behind the live market (ticks.first_start)."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from testsupport.checks import assert_gap_free, bar_mismatches, grid_report
from ticks.first_start import history_fill, history_needed
from ticks.generation import ticks_generate_steps
from ticks.models import Tick, Ticker

pytestmark = pytest.mark.django_db
UTC = UTC
SYMBOLS = ["ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH"]


def run_check(capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stop:
        call_command("first_start_history", "--check")
    return stop.value.code, capsys.readouterr().out


def test_only_an_empty_market_needs_history(capsys, settings):
    settings.FIRST_START_HISTORY_DAYS = 1
    assert history_needed() and run_check(capsys) == (0, "first-start history: needed\n")
    ticks_generate_steps(now=datetime.now(UTC), max_steps=5)
    assert not history_needed()
    assert run_check(capsys) == (3, "first-start history: not needed\n")


def test_turned_off_it_is_never_needed_and_fills_nothing(capsys, settings):
    settings.FIRST_START_HISTORY_DAYS = 0
    assert run_check(capsys) == (3, "first-start history: not needed\n")
    report = history_fill(days=0, niceness=0)
    assert report.skipped == "turned off (FIRST_START_HISTORY_DAYS=0)" and report.ticks == 0


def test_the_history_joins_the_live_series_of_every_ticker():
    now = datetime.now(UTC)
    ticks_generate_steps(now=now, max_steps=30)  # the live market's first ticks, seq 0..29
    report = history_fill(days=1 / 24, wait_s=1, niceness=0)  # one hour
    assert report.skipped is None
    with connection.cursor() as cursor:
        grid = grid_report(cursor)
        assert_gap_free(grid, SYMBOLS, min_count=35_900)  # an hour back from "now", less 3 s
        assert bar_mismatches(cursor) == 0
    for symbol in SYMBOLS:
        low, high = grid[symbol]["seq"]
        assert high == 29 and low < -35_000  # one series: history counts down from the live one
        # An hour back from the history's own "now", a moment after this test's.
        first = grid[symbol]["time"][0]
        assert now - timedelta(hours=1) <= first <= now - timedelta(hours=1) + timedelta(seconds=10)
    assert report.ticks == Tick.objects.count() - 5 * 30


def test_tickers_whose_live_series_has_not_started_are_left_out():
    Ticker.objects.exclude(symbol="SYNTH").update(is_active=False)
    ticks_generate_steps(now=datetime.now(UTC), max_steps=10)
    Ticker.objects.update(is_active=True)  # the others are active, with no live tick yet
    report = history_fill(days=0.01, wait_s=0.6, niceness=0)
    assert report.ticks > 8_000
    assert set(Tick.objects.values_list("ticker__symbol", flat=True).distinct()) == {"SYNTH"}


def test_without_any_live_tick_it_gives_up_and_writes_nothing():
    report = history_fill(days=1, wait_s=0.6, niceness=0)
    assert report.skipped == "no live ticks stored within 0.6 s" and Tick.objects.count() == 0


def test_a_calendar_ticker_closed_at_the_first_start_gets_its_history_without_waiting(settings):
    """Market time 2026-12-01 9:00 New York (closed): HEALTH on XNYS has no live tick to wait
    for; its last day of history is the 30th's session, and the live market, starting at the
    open, continues it."""
    market_now = datetime(2026, 12, 1, 14, tzinfo=UTC)
    settings.MARKET_CLOCK_OFFSET_SECONDS = (market_now - datetime.now(UTC)).total_seconds()
    Ticker.objects.exclude(symbol="HEALTH").update(is_active=False)
    Ticker.objects.filter(symbol="HEALTH").update(calendar="XNYS", tick_interval_ms=1000)
    began = time.monotonic()
    report = history_fill(days=1, wait_s=60, niceness=0)
    assert time.monotonic() - began < 30  # did not wait for a live tick
    assert report.skipped is None and report.ticks == 390 * 60
    first, last = Tick.objects.order_by("time").values_list("time", flat=True)[::23_399]
    assert (first, last) == (
        datetime(2026, 11, 30, 14, 30, tzinfo=UTC),
        datetime(2026, 11, 30, 20, 59, 59, tzinfo=UTC),
    )
