"""The market's clock and calendar (ticks.market_clock) and their Alpaca shapes
(ticks.alpaca_trading): open around the clock, one whole-day session per date."""

from datetime import UTC, date, datetime

from alpaca.trading.models import Calendar, Clock

from ticks.alpaca_trading import calendar, clock
from ticks.market_clock import market_clock, trading_days


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
