"""The market's clock and calendar (ticks.market_clock) and their Alpaca and Massive shapes
(ticks.alpaca_trading, ticks.massive_reads): 24/7 (the default) is open around the clock, one
whole-day session per date; an exchange calendar (XNYS around Thanksgiving 2026) follows the
calendar library: holidays, early closes, pre- and post-market, lunch breaks."""

from datetime import UTC, date, datetime

import pytest
from alpaca.trading.models import Calendar, Clock
from django.test import override_settings

from ticks import massive_reads
from ticks.alpaca_trading import calendar, clock
from ticks.market_clock import (
    market_clock,
    open_since_ms,
    open_time,
    previous_trading_day,
    ticker_session,
    trading_days,
)


def test_the_market_is_always_open_and_turns_over_at_utc_midnight():
    state = market_clock(now=datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC))
    assert state.is_open
    assert state.next_open == state.next_close == datetime(2024, 3, 2, tzinfo=UTC)


def test_every_date_is_one_trading_day():
    days = trading_days(start=date(2024, 2, 28), end=date(2024, 3, 1))
    assert [d.day for d in days] == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    assert days[1].open == datetime(2024, 2, 29, tzinfo=UTC)
    assert days[1].close == datetime(2024, 3, 1, tzinfo=UTC)
    assert trading_days(start=date(2024, 3, 2), end=date(2024, 3, 1)) == []


def test_alpaca_shapes_parse_in_alpaca_py():
    shown = clock(now=datetime(2024, 3, 1, 12, 0, tzinfo=UTC))
    assert shown == {
        "timestamp": "2024-03-01T12:00:00Z",
        "is_open": True,
        "next_open": "2024-03-02T00:00:00Z",
        "next_close": "2024-03-02T00:00:00Z",
    }
    assert Clock(**shown).is_open
    day = calendar(start=date(2024, 12, 31), end=date(2024, 12, 31))
    assert day == [
        {
            "date": "2024-12-31",
            "open": "00:00",
            "close": "23:59",
            "session_open": "0000",
            "session_close": "2359",
            "settlement_date": "2025-01-01",
        }
    ]
    assert Calendar(**day[0]).close == datetime(2024, 12, 31, 23, 59)


# --- an exchange calendar: XNYS around Thanksgiving 2026 ------------------------------------------
# 2026-11-26 (Thursday) is a holiday, 2026-11-27 closes early at 13:00 New York (18:00 UTC);
# New York is UTC-5 then: the regular session is 14:30-21:00 UTC, extended hours 09:00-01:00.


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    "now,is_open,next_open,next_close",
    [
        # Wednesday afternoon: open; the next open skips the holiday.
        (utc(2026, 11, 25, 20), True, utc(2026, 11, 27, 14, 30), utc(2026, 11, 25, 21)),
        # Thanksgiving: closed all day; Friday closes at 13:00 New York.
        (utc(2026, 11, 26, 15), False, utc(2026, 11, 27, 14, 30), utc(2026, 11, 27, 18)),
        # Friday after the early close, and the weekend: next is Monday.
        (utc(2026, 11, 27, 18), False, utc(2026, 11, 30, 14, 30), utc(2026, 11, 30, 21)),
        (utc(2026, 11, 28, 12), False, utc(2026, 11, 30, 14, 30), utc(2026, 11, 30, 21)),
        # Pre-market is closed for the clock (regular session only, as Alpaca's).
        (utc(2026, 11, 27, 13), False, utc(2026, 11, 27, 14, 30), utc(2026, 11, 27, 18)),
    ],
)
def test_the_xnys_clock_follows_holidays_and_early_closes(now, is_open, next_open, next_close):
    state = market_clock(now=now, calendar="XNYS")
    assert (state.is_open, state.next_open, state.next_close) == (is_open, next_open, next_close)
    with override_settings(MARKET_CALENDAR="XNYS"):
        shown = clock(now=now)
        assert market_clock(now=now) == state  # MARKET_CALENDAR is the default
    assert Clock(**shown).is_open is is_open
    assert shown["next_open"] == next_open.isoformat().replace("+00:00", "Z")


def test_xnys_trading_days_skip_the_holiday_and_the_weekend():
    days = trading_days(start=date(2026, 11, 23), end=date(2026, 11, 30), calendar="XNYS")
    assert [d.day.day for d in days] == [23, 24, 25, 27, 30]
    friday = days[3]
    assert (friday.open, friday.close) == (utc(2026, 11, 27, 14, 30), utc(2026, 11, 27, 18))
    assert days[2].settlement == date(2026, 11, 27)  # T+1 skips the holiday


@override_settings(MARKET_CALENDAR="XNYS")
def test_the_alpaca_calendar_writes_new_york_times():
    days = calendar(start=date(2026, 11, 25), end=date(2026, 11, 27))
    assert days == [
        {
            "date": "2026-11-25",
            "open": "09:30",
            "close": "16:00",
            "session_open": "0400",
            "session_close": "2000",
            "settlement_date": "2026-11-27",
        },
        {
            "date": "2026-11-27",
            "open": "09:30",
            "close": "13:00",
            "session_open": "0400",
            "session_close": "1700",
            "settlement_date": "2026-11-30",
        },
    ]
    parsed = Calendar(**days[1])
    assert (parsed.open, parsed.close) == (
        datetime(2026, 11, 27, 9, 30),
        datetime(2026, 11, 27, 13, 0),
    )


def test_the_calendar_outside_the_libraries_reach_is_empty_not_an_error():
    assert trading_days(start=date(2100, 1, 1), end=date(2100, 12, 31), calendar="XNYS") == []


@pytest.mark.parametrize(
    "calendar_code,extended,at,phase,next_open,next_close",
    [
        ("XNYS", False, utc(2026, 11, 27, 13), "closed", utc(2026, 11, 27, 14, 30), utc(2026, 11, 27, 18)),
        ("XNYS", True, utc(2026, 11, 27, 13), "pre", utc(2026, 11, 30, 9), utc(2026, 11, 27, 22)),
        ("XNYS", True, utc(2026, 11, 27, 15), "open", utc(2026, 11, 30, 9), utc(2026, 11, 27, 22)),
        ("XNYS", True, utc(2026, 11, 27, 20), "post", utc(2026, 11, 30, 9), utc(2026, 11, 27, 22)),
        ("XNYS", True, utc(2026, 11, 26, 12), "closed", utc(2026, 11, 27, 9), utc(2026, 11, 27, 22)),
        # Tokyo's lunch break (11:30-12:30 JST).
        ("XTKS", False, utc(2026, 11, 27, 3), "break", utc(2026, 11, 27, 3, 30), utc(2026, 11, 27, 6, 30)),
        ("24/7", False, utc(2026, 11, 26, 12), "open", None, None),
    ],
)  # fmt: skip
def test_a_tickers_session(calendar_code, extended, at, phase, next_open, next_close):
    state = ticker_session(calendar=calendar_code, extended_hours=extended, at=at)
    assert (state.phase, state.next_open, state.next_close) == (phase, next_open, next_close)
    since = open_since_ms(calendar_code, extended, ms(at))
    assert (since is not None) == (phase in ("open", "pre", "post"))


def test_open_since_is_the_start_of_the_open_stretch():
    assert open_since_ms("XNYS", False, ms(utc(2026, 11, 27, 15))) == ms(utc(2026, 11, 27, 14, 30))
    # With extended hours, pre-market and the session are one stretch from 04:00 New York.
    assert open_since_ms("XNYS", True, ms(utc(2026, 11, 27, 15))) == ms(utc(2026, 11, 27, 9))
    assert open_since_ms("XNYS", False, ms(utc(2026, 11, 26, 15))) is None
    assert open_since_ms("24/7", False, 0) < 0  # always open


@pytest.mark.parametrize(
    "now,expected",
    [
        (utc(2026, 11, 27, 15), date(2026, 11, 25)),  # the holiday is skipped
        (utc(2026, 11, 30, 3), date(2026, 11, 27)),  # still Sunday in New York
        (utc(2026, 11, 30, 15), date(2026, 11, 27)),
    ],
)
def test_the_previous_trading_day_is_the_exchanges(now, expected):
    assert previous_trading_day(now=now, calendar="XNYS").day == expected


@pytest.mark.parametrize(
    "now,market,early,after",
    [
        (utc(2026, 11, 27, 13), "extended-hours", True, False),
        (utc(2026, 11, 27, 15), "open", False, False),
        (utc(2026, 11, 27, 20), "extended-hours", False, True),
        (utc(2026, 11, 26, 15), "closed", False, False),
    ],
)
def test_the_massive_market_status_follows_market_calendar(now, market, early, after):
    with override_settings(MARKET_CALENDAR="XNYS"):
        status = massive_reads.market_status(now=now)
    assert (status["market"], status["earlyHours"], status["afterHours"]) == (market, early, after)
    assert status["exchanges"] == {"nasdaq": market, "nyse": market, "otc": market}
    assert status["serverTime"] == now.astimezone(massive_reads.MARKET_ZONE).isoformat(
        timespec="seconds"
    )
    assert massive_reads.market_status(now=now)["market"] == "open"  # 24/7, the default


def test_open_time_leaves_out_what_every_calendar_has_closed():
    start, end = ms(utc(2026, 11, 25, 20)), ms(utc(2026, 11, 27, 15))
    xnys = open_time([("XNYS", False)], start_ms=start, end_ms=end)
    # Wednesday 20:00-21:00 and Friday 14:30-15:00: 90 minutes of open time.
    assert xnys.elapsed(end) == 90 * 60_000
    assert xnys.elapsed(ms(utc(2026, 11, 26, 12))) == 60 * 60_000  # nothing while closed
    assert xnys.elapsed(ms(utc(2026, 11, 27, 14, 31))) == 61 * 60_000
    both = open_time([("XNYS", False), ("XTKS", False)], start_ms=start, end_ms=end)
    assert both.elapsed(end) > xnys.elapsed(end)  # Tokyo traded while New York slept
    assert open_time([("XNYS", False), ("24/7", False)], start_ms=start, end_ms=end) is None
