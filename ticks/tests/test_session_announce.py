"""Session open and close announced by the live generator (``ticks.session_announce`` through
``ticks.event_cycle``): the edges of a calendar's open periods (regular, pre/post, lunch break)
agree with the market clock's session state; live, against the real Redis and PostgreSQL with
the market clock moved, each is announced once, at its time, in order with the ticks, also when
nothing else moves, never again after a restart, not while a halt holds the open; and the
default configuration (every ticker 24/7) announces none."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings

from testsupport.market_clock import market_at
from ticks import announce, calendars, live_configs
from ticks.alpaca_shapes import trading_status_fields
from ticks.config_version import config_version
from ticks.event_cycle import _announced
from ticks.events import event_create, reset_halt_cache
from ticks.live import ticks_generate
from ticks.market import to_ms
from ticks.models import Ticker
from ticks.payloads import (
    SESSION_BREAK,
    SESSION_CLOSED,
    SESSION_OPEN,
    SESSION_POST,
    SESSION_PRE,
    StatusPayload,
)
from ticks.session_announce import edges
from ticks.sessions import session_schedule

MS = timedelta(milliseconds=1)
S = timedelta(seconds=1)
OPEN = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)  # 9:30 in New York
CLOSE = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # 16:00 in New York
NEXT_OPEN = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)
NEXT_CLOSE = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return to_ms(moment)


def day_edges(calendar: str, extended: bool, day: datetime) -> list[StatusPayload]:
    """Every edge of one UTC day, for one ticker on ``calendar``."""
    ticker = SimpleNamespace(calendar=calendar, extended_hours=extended)
    schedule = session_schedule([ticker], start_ms=ms(day), end_ms=ms(day + timedelta(days=1)))
    found = edges(
        schedule,
        lambda row: "X" if row == 0 else None,
        after_ms=ms(day) - 1,
        until_ms=ms(day + timedelta(days=1)) - 1,
    )
    assert [name for _, name, _ in found] == [
        f"session:X:{s.time_ms}:{s.status}" for _, _, s in found
    ]
    return [status for _, _, status in found]


def agrees_with_the_clock(calendar: str, extended: bool, statuses: list[StatusPayload]) -> None:
    """Each edge says what ``market_status`` (``calendars.session_state``) says just after it."""
    for s in statuses:
        at = datetime.fromtimestamp(s.time_ms / 1000, UTC)
        state = calendars.session_state(calendar, extended_hours=extended, at=at)
        assert s.status == state.phase, (s, state)
        assert s.next_open_ms == ms(state.next_open), (s, state)
        assert s.next_close_ms == ms(state.next_close), (s, state)


# --- the edges ------------------------------------------------------------------------------


def test_an_xnys_day_opens_and_closes_once():
    statuses = day_edges("XNYS", False, datetime(2026, 12, 1, tzinfo=UTC))
    assert [(s.status, s.time_ms, s.reason, s.next_open_ms, s.next_close_ms) for s in statuses] == [
        (SESSION_OPEN, ms(OPEN), "market open", ms(NEXT_OPEN), ms(CLOSE)),
        (SESSION_CLOSED, ms(CLOSE), "market closed", ms(NEXT_OPEN), ms(NEXT_CLOSE)),
    ]
    agrees_with_the_clock("XNYS", False, statuses)


def test_the_early_close_and_extended_hours_pre_open_post_closed():
    day = datetime(2026, 11, 27, tzinfo=UTC)  # the day after Thanksgiving: closes at 13:00
    regular = day_edges("XNYS", False, day)
    assert [(s.status, s.time_ms) for s in regular] == [
        (SESSION_OPEN, ms(day + timedelta(hours=14, minutes=30))),
        (SESSION_CLOSED, ms(day + timedelta(hours=18))),
    ]
    extended = day_edges("XNYS", True, day)
    assert [s.status for s in extended] == [SESSION_PRE, SESSION_OPEN, SESSION_POST, SESSION_CLOSED]
    assert [s.time_ms for s in extended][1:3] == [s.time_ms for s in regular]
    agrees_with_the_clock("XNYS", True, extended)
    # the whole stretch closes at the post-market's end
    assert {s.next_close_ms for s in extended[:3]} == {extended[3].time_ms}


def test_a_lunch_break_is_a_break_then_an_open():
    statuses = day_edges("XTKS", False, datetime(2026, 12, 1, tzinfo=UTC))
    assert [s.status for s in statuses] == [
        SESSION_OPEN,
        SESSION_BREAK,
        SESSION_OPEN,
        SESSION_CLOSED,
    ]
    assert statuses[1].reason == "lunch break"
    agrees_with_the_clock("XTKS", False, statuses)


def test_a_weekend_and_a_24_7_ticker_have_no_edges():
    assert day_edges("XNYS", True, datetime(2026, 11, 28, tzinfo=UTC)) == []  # a Saturday
    ticker = SimpleNamespace(calendar="24/7", extended_hours=False)
    schedule = session_schedule([ticker], start_ms=ms(OPEN), end_ms=ms(CLOSE))
    assert edges(schedule, lambda row: "X", after_ms=0, until_ms=ms(CLOSE)) == []


def test_alpaca_codes_of_the_sessions():
    fields = {
        status: trading_status_fields(StatusPayload("X", status, 1), "T")
        for status in (SESSION_OPEN, SESSION_PRE, SESSION_POST, SESSION_BREAK, SESSION_CLOSED)
    }
    assert {s: (f["sc"], f["rc"], f["rm"]) for s, f in fields.items()} == {
        SESSION_OPEN: ("T", "", "Market Open"),
        SESSION_PRE: ("T", "", "Pre-Market Open"),
        SESSION_POST: ("T", "", "Post-Market Open"),
        SESSION_BREAK: ("H", "", "Lunch Break"),
        SESSION_CLOSED: ("H", "", "Market Closed"),
    }
    assert all(f["z"] == "C" and f["t"] == "T" for f in fields.values())


# --- live -----------------------------------------------------------------------------------


class Heard:
    """Ticks and statuses in the order the domain announced them."""

    def __init__(self) -> None:
        self.log: list[tuple] = []

    def on_ticks(self, ticks_by_symbol) -> None:
        for symbol, ticks in ticks_by_symbol.items():
            self.log += [("tick", symbol, t.time_ms) for t in ticks]

    def on_statuses(self, statuses) -> None:
        self.log += [("status", s.ticker, s.time_ms, s.status) for s in statuses]

    def statuses(self) -> list[tuple]:
        return [e for e in self.log if e[0] == "status"]


@pytest.fixture
def heard():
    reset_halt_cache()
    _announced.clear()
    listener = Heard()
    announce.register(listener)
    yield listener
    announce.unregister(listener)
    reset_halt_cache()
    _announced.clear()


@pytest.mark.django_db
def test_the_open_is_announced_once_before_its_ticks(live_redis, heard, settings):
    market_at(settings, OPEN - 2 * S)
    Ticker.objects.filter(symbol="SYNTH").update(calendar="XNYS")
    ticks_generate(now=OPEN - 2 * S)
    ticks_generate(now=OPEN - MS)
    assert heard.statuses() == []
    ticks_generate(now=OPEN + 250 * MS)
    synth = [e for e in heard.log if e[1] == "SYNTH"]
    assert synth == [
        ("status", "SYNTH", ms(OPEN), SESSION_OPEN),
        ("tick", "SYNTH", ms(OPEN)),
        ("tick", "SYNTH", ms(OPEN) + 100),
        ("tick", "SYNTH", ms(OPEN) + 200),
    ]
    ticks_generate(now=OPEN + S)
    _announced.clear()  # a restarted generator: Redis remembers what was announced
    live_configs.reset_config_cache()
    ticks_generate(now=OPEN + 2 * S)
    assert heard.statuses() == [("status", "SYNTH", ms(OPEN), SESSION_OPEN)]


@pytest.mark.django_db
def test_the_close_is_announced_after_the_last_ticks_when_nothing_else_moves(
    live_redis, heard, settings
):
    market_at(settings, CLOSE - S)
    Ticker.objects.update(calendar="XNYS")  # every ticker: after the close nothing moves
    ticks_generate(now=CLOSE - S)
    ticks_generate(now=CLOSE - 50 * MS)  # the last ticks of the day
    assert heard.statuses() == []
    ticks_generate(now=CLOSE + 500 * MS)  # nothing to write; the close is due
    statuses = heard.statuses()
    symbols = set(Ticker.objects.values_list("symbol", flat=True))
    assert sorted(statuses) == sorted(("status", s, ms(CLOSE), SESSION_CLOSED) for s in symbols)
    last_tick = max(i for i, e in enumerate(heard.log) if e[0] == "tick")
    assert heard.log.index(statuses[0]) > last_tick
    assert max(e[2] for e in heard.log if e[0] == "tick") == ms(CLOSE) - 100


@pytest.mark.django_db
def test_an_open_inside_a_halt_is_not_announced_its_end_is(
    live_redis, heard, settings, django_capture_on_commit_callbacks
):
    market_at(settings, OPEN - 10 * S)
    Ticker.objects.filter(symbol="SYNTH").update(calendar="XNYS")
    ticks_generate(now=OPEN - 10 * S)
    with django_capture_on_commit_callbacks(execute=True):
        event_create(kind="halt", scope="ticker", ticker=Ticker.objects.get(symbol="SYNTH"),
                     start=OPEN - 5 * S, duration=10 * S, reason="news pending",
                     now=OPEN - 10 * S)  # fmt: skip
    ticks_generate(now=OPEN + S)
    ticks_generate(now=OPEN + 5 * S + 150 * MS)
    synth = [e for e in heard.log if e[1] == "SYNTH"]
    assert [e for e in synth if e[0] == "status"] == [
        ("status", "SYNTH", ms(OPEN - 5 * S), "halted"),
        ("status", "SYNTH", ms(OPEN + 5 * S), "trading"),
    ]
    assert [e[2] for e in synth if e[0] == "tick"] == [ms(OPEN + 5 * S), ms(OPEN + 5 * S) + 100]


@pytest.mark.django_db
def test_the_default_configuration_is_24_7_and_announces_no_session(live_redis, heard):
    """No MARKET_CALENDAR, no clock offset (the test settings keep the defaults): the five
    seeded tickers trade around the clock, as before sessions existed."""
    assert settings.MARKET_CALENDAR == "24/7" and settings.MARKET_CLOCK_OFFSET_SECONDS == 0
    assert dict(Ticker.objects.values_list("symbol", "calendar")) == dict.fromkeys(
        ("SYNTH", "TECH", "FINANCE", "ENERGY", "HEALTH"), "24/7"
    )
    assert not Ticker.objects.filter(extended_hours=True).exists()
    now = datetime.now(UTC).replace(microsecond=0)
    for step in range(4):
        ticks_generate(now=now + step * S)
    assert live_configs.active_configs(config_version()).sessions.is_empty()
    assert heard.statuses() == []
    per_ticker = {}
    for e in heard.log:
        per_ticker[e[1]] = per_ticker.get(e[1], 0) + 1
    # each: its first tick, then ten a second, every grid point
    assert per_ticker == dict.fromkeys(("SYNTH", "TECH", "FINANCE", "ENERGY", "HEALTH"), 1 + 3 * 10)
