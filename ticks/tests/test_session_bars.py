"""Daily bars are session days: a calendar ticker's 1d bar is the exchange's local date, labelled
at its local midnight in UTC (as Alpaca labels daily bars: XNYS 2026-11-27 is
2026-11-27T05:00:00Z), in the rollup (whole or in the refresh's small windows), the Alpaca and
Massive bar readers (days, weeks, months), the previous close and grouped daily bars, the daily
bars the streams send and the Massive day so far; a 24/7 ticker keeps UTC days exactly.

Ticks are inserted directly at chosen times of the Thanksgiving fortnight 2026-11-16..30 (XNYS:
holiday 11-26, early close 11-27 at 13:00 New York); SYNTH trades XNYS with extended hours (its
post-market runs past UTC midnight), TECH 24/7. The SQL is the same on both storage layouts
(``make test-storage`` runs this module on TimescaleDB too).
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from api.directory import directory
from ticks.massive_reads import day_totals_through, grouped_daily, previous_close
from ticks.models import Bar, Tick, Ticker
from ticks.rollup import bars_rollup
from ticks.selectors import daily_bars
from ticks.storage import tick_storage

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


START, END = utc(2026, 11, 16), utc(2026, 12, 2)
# XNYS's sessions of the fortnight (written out: the test checks the library's answer).
SESSIONS = [16, 17, 18, 19, 20, 23, 24, 25, 27, 30]


def synth_times(day: int) -> list[datetime]:
    """SYNTH's ticks of a session: pre-market, the open, midday, just before the close and
    (but on the early close) the post-market at 19:30 New York, past UTC midnight."""
    close = utc(2026, 11, day, 18) if day == 27 else utc(2026, 11, day, 21)
    times = [
        utc(2026, 11, day, 9, 30),
        utc(2026, 11, day, 14, 30),
        utc(2026, 11, day, 17),
        close - timedelta(milliseconds=100),
    ]
    if day != 27:
        times.append(utc(2026, 11, day, 23, 59) + timedelta(minutes=31))  # 00:30 next UTC day
    return times


def tech_times(day: int) -> list[datetime]:
    return [utc(2026, 11, day, 0, 30), utc(2026, 11, day, 12), utc(2026, 11, day, 23, 30)]


def insert(ticker: Ticker, times: list[datetime], first_seq: int = 0) -> list[Tick]:
    ticks = []
    for i, moment in enumerate(sorted(times)):
        price = Decimal(100 + (i % 37)) + Decimal(i % 7) / 10
        ticks.append(
            Tick(
                ticker=ticker,
                time=moment,
                seq=first_seq + i,
                price=price,
                bid=price - Decimal("0.05"),
                ask=price + Decimal("0.05"),
                volume=10 + i,
            )
        )
    Tick.objects.bulk_create(ticks)
    return ticks


@pytest.fixture
def fortnight():
    tick_storage().ensure_room(connection, start=START - timedelta(days=1), end=END)
    synth = Ticker.objects.get(symbol="SYNTH")
    synth.calendar, synth.extended_hours = "XNYS", True
    synth.save()
    tech = Ticker.objects.get(symbol="TECH")
    synth_ticks = insert(synth, [t for day in SESSIONS for t in synth_times(day)])
    tech_ticks = insert(tech, [t for day in range(16, 31) for t in tech_times(day)])
    directory.reset()
    yield synth, tech, synth_ticks, tech_ticks
    directory.reset()


def daily(ticker: Ticker) -> list[Bar]:
    return list(Bar.objects.filter(ticker=ticker, timeframe="1d").order_by("time"))


def expected_days(ticks: list[Tick], day_of) -> dict[datetime, tuple]:
    """``{label: (open, high, low, close, volume, count)}`` of ``ticks`` grouped by ``day_of``."""
    days: dict[datetime, list[Tick]] = {}
    for t in sorted(ticks, key=lambda t: t.time):
        days.setdefault(day_of(t.time), []).append(t)
    return {
        label: (
            group[0].price,
            max(t.price for t in group),
            min(t.price for t in group),
            group[-1].price,
            sum(t.volume for t in group),
            len(group),
        )
        for label, group in days.items()
    }


def ny_label(moment: datetime) -> datetime:
    """The local date's midnight in UTC; New York is UTC-5 all fortnight (EST from 11-01)."""
    local = moment - timedelta(hours=5)
    return utc(local.year, local.month, local.day, 5)


def utc_label(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def shown(bars: list[Bar]) -> dict[datetime, tuple]:
    return {b.time: (b.open, b.high, b.low, b.close, b.volume, b.trade_count) for b in bars}


def test_one_daily_bar_per_session_labelled_at_new_york_midnight(fortnight):
    synth, tech, synth_ticks, tech_ticks = fortnight
    bars_rollup(start=START, end=END)
    got = daily(synth)
    assert [b.time for b in got] == [utc(2026, 11, d, 5) for d in SESSIONS]
    assert z(got[-2].time) == "2026-11-27T05:00:00Z"  # the early close's session
    assert shown(got) == expected_days(synth_ticks, ny_label)
    # The 24/7 ticker beside it: every UTC day, exactly as before.
    assert [b.time for b in daily(tech)] == [utc(2026, 11, d) for d in range(16, 31)]
    assert shown(daily(tech)) == expected_days(tech_ticks, utc_label)
    # Hours stay on the hour.
    hours = Bar.objects.filter(ticker=synth, timeframe="1h").values_list("time", flat=True)
    assert all(h.minute == 0 and h.second == 0 for h in hours)


def test_the_refreshs_small_windows_give_the_same_days(fortnight):
    """The live refresh rolls up a few seconds at a time: a window at 00:30 UTC must add to the
    New York day before it, never make a partial UTC day of it."""
    synth, tech, synth_ticks, tech_ticks = fortnight
    for t in sorted(synth_ticks + tech_ticks, key=lambda t: t.time):
        bars_rollup(start=t.time, end=t.time + timedelta(milliseconds=1))
    small = {s: shown(daily(s)) for s in (synth, tech)}
    Bar.objects.all().delete()
    bars_rollup(start=START, end=END)
    assert small == {s: shown(daily(s)) for s in (synth, tech)}
    assert list(small[synth]) == [utc(2026, 11, d, 5) for d in SESSIONS]


def test_a_summer_session_is_labelled_at_the_edt_midnight():
    synth = Ticker.objects.get(symbol="SYNTH")
    synth.calendar = "XNYS"
    synth.save()
    moments = [utc(2026, 10, 30, 13, 30), utc(2026, 10, 30, 19, 59)]  # 09:30, 15:59 EDT
    tick_storage().ensure_room(connection, start=moments[0], end=moments[-1])
    insert(synth, moments)
    bars_rollup(start=moments[0], end=moments[-1] + timedelta(seconds=1))
    assert [b.time for b in daily(synth)] == [utc(2026, 10, 30, 4)]


def alpaca_bars(client, timeframe: str, symbol: str = "SYNTH") -> list[dict]:
    response = client.get(
        f"/v2/stocks/{symbol}/bars?timeframe={timeframe}&start=2026-11-01T00:00:00Z"
        "&end=2026-11-30T23:00:00Z&limit=10000"
    )
    assert response.status_code == 200, response.content
    return response.json()["bars"]


def test_the_alpaca_and_massive_readers_serve_session_days(client, fortnight):
    synth, tech, synth_ticks, _ = fortnight
    bars_rollup(start=START, end=END)
    days = alpaca_bars(client, "1Day")
    assert [b["t"] for b in days] == [f"2026-11-{d:02d}T05:00:00Z" for d in SESSIONS]
    weeks = alpaca_bars(client, "1Week")
    assert [b["t"] for b in weeks] == [
        "2026-11-16T05:00:00Z",
        "2026-11-23T05:00:00Z",
        "2026-11-30T05:00:00Z",
    ]
    assert weeks[1]["v"] == sum(b["v"] for b in days if "11-23" <= b["t"][5:10] <= "11-27")
    months = alpaca_bars(client, "1Month")
    assert [b["t"] for b in months] == ["2026-11-01T04:00:00Z"]  # New York's midnight, EDT
    assert months[0]["v"] == sum(t.volume for t in synth_ticks)
    assert [b["t"] for b in alpaca_bars(client, "1Week", "TECH")] == [
        "2026-11-16T00:00:00Z",
        "2026-11-23T00:00:00Z",
        "2026-11-30T00:00:00Z",
    ]
    response = client.get("/v2/aggs/ticker/SYNTH/range/2/day/2026-11-16/2026-11-30")
    assert response.status_code == 200, response.content
    pairs = response.json()["results"]
    # Two New York days per bucket, counted from 1970-01-01 (11-15+16, 17+18, ...); the bucket
    # that starts before `from` is left out, as for any bucket.
    labels = [datetime.fromtimestamp(r["t"] / 1000, UTC) for r in pairs]
    assert labels == [utc(2026, 11, d, 5) for d in (17, 19, 23, 25, 27, 29)]
    assert sum(r["v"] for r in pairs) == sum(
        t.volume for t in synth_ticks if ny_label(t.time) >= utc(2026, 11, 17, 5)
    )


def test_previous_close_grouped_daily_and_the_days_so_far(fortnight):
    synth, tech, synth_ticks, tech_ticks = fortnight
    bars_rollup(start=START, end=END)
    info = directory.get("SYNTH")
    # Monday 2026-11-30 at 10:00 New York: the previous session is the early close's.
    (prev,) = previous_close(ticker=info, now=utc(2026, 11, 30, 15))
    assert prev["t"] == int(utc(2026, 11, 27, 5).timestamp() * 1000)
    (prev,) = previous_close(ticker=info, now=utc(2026, 11, 27, 15))  # skips Thanksgiving
    assert prev["t"] == int(utc(2026, 11, 25, 5).timestamp() * 1000)
    tickers = [directory.get("SYNTH"), directory.get("TECH")]
    assert [r["T"] for r in grouped_daily(tickers=tickers, day=date(2026, 11, 26))] == ["TECH"]
    both = grouped_daily(tickers=tickers, day=date(2026, 11, 27))
    assert [(r["T"], r["t"]) for r in both] == [
        ("SYNTH", int(utc(2026, 11, 27, 5).timestamp() * 1000)),
        ("TECH", int(utc(2026, 11, 27).timestamp() * 1000)),
    ]
    # At 00:30 UTC on the 26th it is still the 25th in New York.
    at = utc(2026, 11, 26, 0, 30)
    found = {b.ticker: b.time_ms for b in daily_bars(at=at, symbols=["SYNTH", "TECH"])}
    assert found == {
        "SYNTH": int(utc(2026, 11, 25, 5).timestamp() * 1000),
        "TECH": int(utc(2026, 11, 26).timestamp() * 1000),
    }
    totals = day_totals_through(minute_ms=int(at.timestamp() * 1000), symbols=["SYNTH", "TECH"])
    synth_day = [t for t in synth_ticks if ny_label(t.time) == utc(2026, 11, 25, 5)]
    assert totals["SYNTH"].volume == sum(t.volume for t in synth_day)
    assert totals["SYNTH"].open == float(synth_day[0].price)
    (first_of_26th,) = [t for t in tech_ticks if t.time == at]
    assert totals["TECH"].volume == first_of_26th.volume  # its UTC day's first minute only
