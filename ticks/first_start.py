"""History for a market that has none: on a first start, the last ``FIRST_START_HISTORY_DAYS``
before the live series are filled in the background, so the dashboard, ``/bars`` and ``/stats``
have something to show at once.

The live market starts first. This waits until every active ticker's live series has its first
tick stored, then backfills the days before it: a backfill always runs backwards from a ticker's
earliest stored tick (``ticks.backfill``), so the history joins the live series exactly, however
long the two run side by side. It runs at low CPU priority so that the generation cycle keeps
its timing on a small machine.

A ticker on an exchange calendar whose market is closed at the first start has no live tick to
wait for: its history is filled at once, ending at now from a virtual tick at its start price,
where its live series also starts (from its start price, at the next open): the two meet at
that price.
"""

import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta

from .backfill import history_window, plan_backfill, rollup_range, write_plan
from .calendars import CalendarError, is_always_open, session_state
from .market_time import market_now
from .models import Tick, Ticker

logger = logging.getLogger(__name__)

POLL_S = 0.5


@dataclass
class FirstStartReport:
    ticks: int = 0
    seconds: float = 0.0
    skipped: str | None = None


def history_needed() -> bool:
    """A first start: no tick stored yet (checked before the live market starts)."""
    return not Tick.objects.exists()


def _live_series_started(tickers: list[Ticker]) -> list[Ticker]:
    started = set(
        Tick.objects.filter(ticker__in=tickers).values_list("ticker_id", flat=True).distinct()
    )
    return [t for t in tickers if t.pk in started]


def _closed_now(ticker: Ticker) -> bool:
    """A calendar ticker whose market is closed now (market time): no live tick to wait for."""
    if is_always_open(ticker.calendar):
        return False
    try:
        state = session_state(
            ticker.calendar, extended_hours=ticker.extended_hours, at=market_now()
        )
    except CalendarError:
        return False
    return not state.is_open


def history_fill(*, days: float, wait_s: float = 120.0, niceness: int = 10) -> FirstStartReport:
    """Wait (up to ``wait_s``) for the live series of every active ticker, then fill ``days``
    of history before each. Tickers whose live series has not started by then are left out,
    except calendar tickers whose market is closed: their history is filled without waiting."""
    if days <= 0:
        return FirstStartReport(skipped="turned off (FIRST_START_HISTORY_DAYS=0)")
    if niceness:
        os.nice(niceness)  # below the generator: the live cycle keeps its timing
    tickers = list(Ticker.objects.filter(is_active=True).order_by("symbol"))
    deadline = time.monotonic() + wait_s
    started = _live_series_started(tickers)
    closed = [t for t in tickers if t not in started and _closed_now(t)]
    awaited = [t for t in tickers if t not in closed]
    while len(started) < len(awaited) and time.monotonic() < deadline:
        time.sleep(POLL_S)
        started = _live_series_started(awaited)
    started = sorted(started + closed, key=lambda t: t.symbol)
    if not started:
        return FirstStartReport(skipped=f"no live ticks stored within {wait_s:g} s")
    missing = sorted({t.symbol for t in tickers} - {t.symbol for t in started})
    if missing:
        logger.warning(
            "first-start history: no live ticks yet for %s; left out", ", ".join(missing)
        )
    logger.info(
        "first start: filling the last %g day(s) of history behind the live market of "
        "%d ticker(s), in the background (FIRST_START_HISTORY_DAYS=0 turns this off)",
        days,
        len(started),
    )
    begun = time.monotonic()
    now = market_now()
    plan = plan_backfill(tickers=started, duration=timedelta(days=days), end=now, now=now)
    with history_window(plan):
        written = write_plan(plan)
        rollup_range(plan)
    report = FirstStartReport(ticks=written, seconds=time.monotonic() - begun)
    logger.info(
        "first-start history in: %d ticks from %s in %.0f s",
        written,
        plan.start.isoformat(),
        report.seconds,
    )
    return report
