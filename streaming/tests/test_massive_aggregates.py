"""``streaming.massive.aggregates.Seconds``: per-second aggregates and the day so far, pure."""

from streaming.massive.aggregates import DAY_MS, Seconds
from ticks.massive_shapes import DayTotals

DAY = 1_800_000_000_000 - 1_800_000_000_000 % DAY_MS + DAY_MS  # a UTC midnight


def _tick(ms: int, cents: int, volume: int = 10, symbol: str = "SYNTH") -> dict:
    return {"ticker": symbol, "price": cents / 100, "volume": volume, "timestamp": ms}


def test_the_day_from_its_first_tick_when_the_process_saw_it_start():
    seconds = Seconds()
    assert seconds.add([_tick(DAY - 30_000, 9_000)]) == []  # the previous day, seen in part
    closed = seconds.add([_tick(DAY + 100, 10_000, 5), _tick(DAY + 900, 10_200, 15)])
    (last_of_yesterday,) = closed
    assert "av" not in last_of_yesterday  # its day started before the process saw it
    (first,) = seconds.add([_tick(DAY + 1_000, 10_100, 10)])
    assert (first["s"], first["v"], first["o"], first["c"]) == (DAY, 20, 100.0, 102.0)
    assert (first["av"], first["op"]) == (20, 100.0)
    assert first["a"] == round((100.0 * 5 + 102.0 * 15) / 20, 4)
    assert first["z"] == 10 and first["vw"] == first["a"]


def test_the_day_from_a_base_plus_the_minutes_streamed_since():
    seconds = Seconds()
    m = DAY + 3_600_000
    seconds.add([_tick(m - 1, 10_000)])  # first seen in the minute before m: m is seen whole
    seconds.set_base("SYNTH", m - 60_000, DayTotals(open=95.0, volume=1_000, price_volume=99_000))
    closed = seconds.add([_tick(m + 10, 10_000, 7), _tick(m + 61_000, 10_100, 3)])
    assert "av" not in closed[0]  # m - 1's second: the base already covers it
    second_of_m = closed[1]
    assert (second_of_m["av"], second_of_m["op"]) == (1_007, 95.0)
    # A newer base replaces the streamed minutes it covers.
    seconds.set_base("SYNTH", m, DayTotals(open=95.0, volume=1_010, price_volume=100_000))
    (later,) = seconds.add([_tick(m + 62_000, 10_100, 1)])
    assert later["av"] == 1_013  # the base through m, plus minute m + 1 so far (3)
    assert list(seconds.minutes["SYNTH"]) == [m + 60_000]


def test_unknown_until_a_base_covers_the_minute_first_seen_in_part():
    seconds = Seconds()
    m = DAY + 7_200_000
    seconds.add([_tick(m + 30_000, 10_000)])
    seconds.set_base("SYNTH", m - 120_000, DayTotals(95.0, 10, 950.0))  # older than m: a gap
    (closed,) = seconds.add([_tick(m + 31_000, 10_000)])
    assert "av" not in closed
    assert seconds.close_symbol("SYNTH")["s"] == m + 31_000
    assert seconds.close_symbol("SYNTH") is None
