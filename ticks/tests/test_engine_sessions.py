"""Trading sessions in the engine (``ticks.engine.sessions`` through ``ticks.engine.events``):
ticks only in open periods, seq consecutive across closures, the opening gap, the business
clock, batch invariance, 24/7 tickers untouched, scenario events at the open. Pure engine (the
periods come from ``ticks.calendars``, as the product builds them)."""

import json
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ticks import calendars
from ticks.engine import EngineState, MarketConfig, SessionSchedule, TickerParams, advance, rewind
from ticks.engine import events as ev
from ticks.engine.events import GAP, HALT, MOVE, VOLATILITY, EventSchedule
from ticks.engine.sessions import POST, PRE, REGULAR, SESSIONS_PER_YEAR

from . import test_engine_golden as golden

NY = ZoneInfo("America/New_York")
FIELDS = ("seq", "time_ms", "price_cents", "bid_cents", "ask_cents", "volume", "log_price")


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def ny(*args) -> int:
    return ms(datetime(*args, tzinfo=NY))


def schedule(rows, code="XNYS", *, extended=False, start=None, end=None) -> SessionSchedule:
    """The periods of ``code`` for each of ``rows`` (default: November 2026 with margins)."""
    start = start or datetime(2026, 11, 1, tzinfo=UTC)
    end = end or datetime(2026, 12, 20, tzinfo=UTC)
    s, e, d, k = calendars.period_arrays(
        code, extended_hours=extended, start_ms=ms(start), end_ms=ms(end)
    )
    n = len(s)
    rows = list(rows)
    return SessionSchedule(
        np.repeat(rows, n), np.tile(s, len(rows)), np.tile(e, len(rows)), np.tile(d, len(rows)),
        np.tile(k, len(rows)),
    )  # fmt: skip


def market_of(n, interval=100, **kw):
    params = TickerParams.from_rows(
        [
            {
                "seed": 500 + i,
                "drift": 0.05,
                "volatility": 0.25,
                "interval_ms": interval,
                "sector": f"S{i % 2}",
            }
            for i in range(n)
        ]
    )
    return params, MarketConfig(market_seed=9, **kw)


def ticks_of(batch, i):
    rows = batch.ticker_index == i
    return {name: getattr(batch, name)[rows] for name in FIELDS}


def same(a, b) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def inside(times, sessions, row=0):
    pick = sessions.row == row
    s, e = sessions.start_ms[pick], sessions.end_ms[pick]
    p = np.searchsorted(s, times, side="right") - 1
    return (p >= 0) & (times < e[np.maximum(p, 0)])


# --------------------------------------------------------------------------------------------------
# the grid


def test_ticks_only_in_regular_sessions_with_seq_consecutive_and_the_count_of_open_minutes():
    params, market = market_of(2, interval=1000)
    sessions = schedule([0, 1])
    start, now = ms(datetime(2026, 11, 16, tzinfo=UTC)), ms(datetime(2026, 12, 1, tzinfo=UTC))
    state = EngineState.initial(start_price=100.0, anchor_time_ms=[start, start])
    due = ev.steps_due(state, params, now, None, sessions)
    # 9 full days of 390 minutes and the day after Thanksgiving's 210, at 60 ticks a minute
    assert due.tolist() == [3720 * 60] * 2
    batch, new = ev.advance(params, state, due, market, None, sessions)
    a = ticks_of(batch, 0)
    assert inside(a["time_ms"], sessions).all()
    np.testing.assert_array_equal(a["seq"], np.arange(1, len(a["seq"]) + 1))
    assert a["time_ms"][0] == ny(2026, 11, 16, 9, 30)
    assert a["time_ms"][-1] == ny(2026, 11, 30, 15, 59, 59)
    days = {datetime.fromtimestamp(t / 1000, NY).date() for t in a["time_ms"][::600].tolist()}
    assert datetime(2026, 11, 26).date() not in days  # Thanksgiving
    assert all(d.weekday() < 5 for d in days)
    early = a["time_ms"][(a["time_ms"] >= ny(2026, 11, 27)) & (a["time_ms"] < ny(2026, 11, 28))]
    assert early[-1] == ny(2026, 11, 27, 12, 59, 59)  # the early close at 13:00
    # the first tick of each session is at its open; nothing is due until the next one
    opens = a["time_ms"][1:][np.diff(a["time_ms"]) > 1000]
    assert [datetime.fromtimestamp(t / 1000, NY).time().isoformat() for t in opens] == [
        "09:30:00"
    ] * 9
    assert ev.steps_due(
        new, params, ny(2026, 12, 1, 9, 29, 59, 999000), None, sessions
    ).tolist() == [
        0,
        0,
    ]


def test_catch_up_across_a_closure_generates_nothing_for_it():
    params, market = market_of(1)
    sessions = schedule([0])
    close = ny(2026, 11, 20, 16)  # Friday
    state = EngineState.initial(start_price=50.0, anchor_time_ms=close - 100, seq=41)
    for now in (close, close + 3_600_000, ny(2026, 11, 22, 12), ny(2026, 11, 23, 9, 29, 59)):
        assert ev.steps_due(state, params, now, None, sessions).tolist() == [0]
        batch, same_state = ev.advance(params, state, 0, market, None, sessions)
        assert len(batch) == 0
    monday = ny(2026, 11, 23, 9, 30)
    assert ev.steps_due(state, params, monday, None, sessions).tolist() == [1]
    batch, new = ev.advance(params, state, 1, market, None, sessions)
    assert batch.seq.tolist() == [42] and batch.time_ms.tolist() == [monday]
    assert ev.steps_due(state, params, monday + 1000, None, sessions).tolist() == [11]


def test_lunch_breaks_are_closed_and_the_afternoon_starts_without_a_gap():
    params, market = market_of(1, interval=1000)
    sessions = schedule([0], "XTKS")
    tokyo = ZoneInfo("Asia/Tokyo")
    day = datetime(2026, 11, 25, tzinfo=tokyo)
    state = EngineState.initial(start_price=3000.0, anchor_time_ms=ms(day))
    now = ms(day + timedelta(hours=16))
    due = ev.steps_due(state, params, now, None, sessions)
    assert due.tolist() == [(150 + 180) * 60]  # 9:00-11:30 and 12:30-15:30
    batch, _ = ev.advance(params, state, due, market, None, sessions)
    local = [datetime.fromtimestamp(t / 1000, tokyo).time() for t in batch.time_ms.tolist()]
    assert local[0].isoformat() == "09:00:00" and local[-1].isoformat() == "15:29:59"
    assert not any(
        datetime(1, 1, 1, 11, 30).time() <= t < datetime(1, 1, 1, 12, 30).time() for t in local
    )
    # the business clock: the lunch break adds nothing, the open carries the overnight share
    clock = market.session_clock(sessions)
    t = batch.time_ms
    after = int(np.flatnonzero(np.diff(t) > 1000)[0]) + 1
    points = np.array([[t[0] - 1000 * 3600 * 14, t[0], t[after - 1], t[after], t[after + 1]]])
    dt, _, _ = clock.path(np.array([0]), points)
    share = dt[0] * SESSIONS_PER_YEAR
    assert share[0] == pytest.approx(market.overnight_share, rel=0.02)  # the open: q and a slot
    assert share[2] == pytest.approx(share[3], rel=0.05)  # after lunch: one slot, no gap


def test_extended_hours_trade_at_lower_volume_and_wider_spreads():
    params, market = market_of(4, interval=1000)
    sessions = schedule([0, 1, 2, 3], extended=True)
    day = ny(2026, 11, 24)
    state = EngineState.initial(start_price=100.0, anchor_time_ms=np.full(4, day))
    due = ev.steps_due(state, params, ny(2026, 11, 25), None, sessions)
    assert due.tolist() == [16 * 3600] * 4  # 4:00 to 20:00
    batch, _ = ev.advance(params, state, due, market, None, sessions)
    hour = np.array([datetime.fromtimestamp(t / 1000, NY).hour for t in batch.time_ms.tolist()])
    volume = batch.volume.astype(float)
    spread = (batch.ask_cents - batch.bid_cents) / batch.price_cents
    pre, regular, post = hour < 9, (hour >= 10) & (hour < 16), hour >= 16
    assert pre.any() and post.any()
    for extended in (pre, post):
        assert volume[extended].mean() < 0.4 * volume[regular].mean()
        assert spread[extended].mean() > 1.5 * spread[regular].mean()


# --------------------------------------------------------------------------------------------------
# the business clock


def test_a_session_close_to_close_is_one_252th_of_a_year_and_the_gap_its_overnight_share():
    params, market = market_of(1, overnight_share=0.3)
    sessions = schedule([0], extended=True)
    clock = market.session_clock(sessions)
    row = np.array([0])
    fri, mon = ny(2026, 11, 20, 19, 59), ny(2026, 11, 23, 19, 59)
    # close to close over a weekend, in one step or minute by minute: 1/252 of a year
    one, _, _ = clock.path(row, np.array([[fri, mon]]))
    assert one[0, 0] * SESSIONS_PER_YEAR == pytest.approx(1.0, abs=1e-12)
    minutes = np.arange(fri, mon + 1, 60_000)
    many, level, extended = clock.path(row, minutes[None, :])
    assert many.sum() * SESSIONS_PER_YEAR == pytest.approx(1.0, abs=1e-9)
    # all the variance of a closure is the share q, at the first open (the pre-market's)
    closed = many[0] * SESSIONS_PER_YEAR
    pre_open = int(np.flatnonzero(minutes[1:] == ny(2026, 11, 23, 4))[0])
    assert closed[pre_open] == pytest.approx(0.3, abs=1e-12)
    weekend = (minutes[1:] > ny(2026, 11, 20, 20)) & (minutes[1:] < ny(2026, 11, 23, 4))
    assert not closed[weekend].any()
    # the U: the open's and the close's minutes weigh about 2.2x the session average, midday less
    regular = (~extended[0]) & (closed > 0)
    assert extended[0][minutes[1:] == ny(2026, 11, 23, 8)].all()
    assert level[0][minutes[1:] == ny(2026, 11, 23, 8)] == pytest.approx(0.2)
    first = level[0][minutes[1:] == ny(2026, 11, 23, 9, 31)][0]
    noon = level[0][minutes[1:] == ny(2026, 11, 23, 12, 45)][0]
    assert first > 2.0 > 0.8 > noon
    assert regular.sum() == 390


def test_a_step_across_several_sessions_gets_all_of_them():
    params, market = market_of(1)
    sessions = schedule([0])
    clock = market.session_clock(sessions)
    start, end = ny(2026, 11, 16, 12), ny(2026, 11, 23, 12)  # Monday noon to Monday noon
    one, _, _ = clock.path(np.array([0]), np.array([[start, end]]))
    assert one[0, 0] * SESSIONS_PER_YEAR == pytest.approx(5.0, abs=1e-12)


# --------------------------------------------------------------------------------------------------
# reproducible: any split, both directions; 24/7 tickers untouched


def mixed_market():
    """Plain GBM, jumps and stochastic volatility tickers, on a calendar or not."""
    rows = []
    for i in range(6):
        model = {}
        if i % 3 == 1:
            model = {"jump_rate": 2000.0, "jump_mean": -0.01, "jump_spread": 0.02}
        elif i % 3 == 2:
            model = {"volatility_model": "stochastic", "jump_rate": 500.0, "jump_spread": 0.01}
        interval = 100 if i < 3 else 250
        rows.append(
            {"seed": 900 + i, "drift": 0.03, "volatility": 0.3, "interval_ms": interval,
             "sector": "S", **model}
        )  # fmt: skip
    params = TickerParams.from_rows(rows)
    state = EngineState.initial(
        start_price=80.0, anchor_time_ms=np.full(6, ny(2026, 11, 24, 15, 58))
    )
    return params, state, MarketConfig(market_seed=4, time_scale=30.0)


@pytest.mark.parametrize("splits", [[1, 7, 1500, 1, 99_999], [400_000, 1], [2_000] * 30])
def test_sessions_are_batch_invariant_across_closures(splits):
    params, state, market = mixed_market()
    sessions = schedule([0, 1, 2, 4], extended=False)
    events = EventSchedule.from_effects(
        [(4, HALT, ny(2026, 11, 24, 15, 59), ny(2026, 11, 25, 9, 45), 0.0)]
    )
    now = ny(2026, 11, 25, 10, 30)
    due = ev.steps_due(state, params, now, events, sessions)
    whole, end = ev.advance(params, state, due, market, events, sessions)
    parts, cur, t = [], state, state.time_ms[0]
    for n in splits + [10**9]:
        t = min(now, t + n * 100)
        step = ev.steps_due(cur, params, t, events, sessions)
        batch, cur = ev.advance(params, cur, step, market, events, sessions)
        parts.append(batch)
    same(whole, ev._merge(parts))
    np.testing.assert_array_equal(end.log_price, cur.log_price)
    np.testing.assert_array_equal(end.vol, cur.vol)
    # seq consecutive across the closure, times inside the periods
    for i in (0, 1, 2, 4):
        a = ticks_of(whole, i)
        np.testing.assert_array_equal(np.diff(a["seq"]), 1)
        assert inside(a["time_ms"], sessions, i).all()
    # fixed-count pieces too (a backfill's chunks), in both directions
    pieces, cur = [], state
    for k in (3, 250, 17, 9000, 60_000):
        batch, cur = ev.advance(params, cur, np.minimum(k, due), market, events, sessions)
        pieces.append(batch)
        due = due - np.minimum(k, due)
    head = ev._merge(pieces)
    for i in range(len(params)):
        n = len(ticks_of(head, i)["seq"])
        for name in FIELDS:
            np.testing.assert_array_equal(ticks_of(head, i)[name], ticks_of(whole, i)[name][:n])


def test_rewind_joins_advance_across_closures():
    """History rewound from the newest tick is the forward path (equal cents, times, seqs)."""
    params, _, market = mixed_market()
    params = params.take([0, 1, 3])  # constant models: the backward path retraces them
    state = EngineState.initial(
        start_price=80.0, anchor_time_ms=np.full(3, ny(2026, 11, 20, 15, 30))
    )
    sessions = schedule([0, 1])
    now = ny(2026, 11, 23, 10)
    due = ev.steps_due(state, params, now, None, sessions)
    forward, last = ev.advance(params, state, due, market, None, sessions)
    back, first = ev.rewind(params, last, due - 1, market, None, sessions)
    for i in range(3):
        f, b = ticks_of(forward, i), ticks_of(back, i)
        for name in ("seq", "time_ms", "price_cents", "volume", "bid_cents", "ask_cents"):
            np.testing.assert_array_equal(f[name][:-1], b[name], err_msg=name)
        np.testing.assert_allclose(f["log_price"][:-1], b["log_price"], atol=1e-9)
    # a backfill over the range counts the same ticks
    grid = (now - state.time_ms[0]) // params.interval_ms - 1
    assert (
        ev.steps_back(last, params, int(state.time_ms[0]) + 100, grid, None, sessions).tolist()
        == (due - 1).tolist()
    )


def test_a_24_7_ticker_beside_calendar_tickers_is_the_golden_path_bit_for_bit():
    params, state, market = golden._mixed()
    n = len(params)
    extra = TickerParams.from_rows(
        [{"seed": 77, "drift": 0.0, "volatility": 0.4, "interval_ms": 100, "sector": "Technology"}]
        * 2
    )
    both = TickerParams(
        **{f: np.concatenate([getattr(params, f), getattr(extra, f)]) for f in (
            "seed", "drift", "volatility", "interval_ms", "min_price", "max_price", "sector",
            "vol_model", "vol_of_vol", "vol_half_lives", "leverage", "jump_rate", "jump_mean",
            "jump_spread")}
    )  # fmt: skip
    start = EngineState(
        seq=np.r_[state.seq, 0, 0],
        time_ms=np.r_[state.time_ms, state.time_ms[:2]],
        log_price=np.r_[state.log_price, math.log(40.0), math.log(40.0)],
    )
    sessions = schedule(
        [n, n + 1],
        start=datetime(2023, 11, 1, tzinfo=UTC),
        end=datetime(2023, 12, 1, tzinfo=UTC),
    )
    expected = json.loads(golden.GOLDEN.read_text())["mixed"]
    steps = np.r_[np.full(n, 300), 600_000, 300]  # calendar rows: closures in the call
    forward, _ = ev.advance(both, start, steps, market, None, sessions)
    backward, _ = ev.rewind(
        both, start, np.r_[np.full(n, 200), 200, 200_000], market, None, sessions
    )
    for label, batch in (("advance", forward), ("rewind", backward)):
        for i in range(n):
            got = ticks_of(batch, i)
            for f in golden.FIELDS:
                assert got[f].tolist() == expected[label][str(i)][f], (label, i, f)
            assert [v.hex() for v in got["log_price"].tolist()] == expected[label][str(i)][
                "log_price"
            ]
    # and the calendar rows really had sessions in that call
    assert inside(ticks_of(forward, n)["time_ms"], sessions, n).all()
    assert (np.diff(ticks_of(forward, n)["time_ms"]) > 3_600_000).sum() >= 2


def test_no_sessions_is_the_engine_bit_for_bit():
    params, state, market = golden._seed()
    plain, s1 = advance(params, state, 3000, market)
    for sessions in (None, SessionSchedule.empty()):
        got, s2 = ev.advance(params, state, 3000, market, None, sessions)
        same(plain, got)
        np.testing.assert_array_equal(s1.log_price, s2.log_price)
    back, _ = rewind(params, state, 500, market)
    same(back, ev.rewind(params, state, 500, market, None, SessionSchedule.empty())[0])


# --------------------------------------------------------------------------------------------------
# scenario events respect sessions


def _pair(events, sessions, state, params, market, now):
    due = ev.steps_due(state, params, now, events, sessions)
    plain, _ = ev.advance(
        params, state, ev.steps_due(state, params, now, None, sessions), market, None, sessions
    )
    withev, _ = ev.advance(params, state, due, market, events, sessions)
    return ticks_of(plain, 0), ticks_of(withev, 0)


def test_a_gap_or_move_starting_while_closed_takes_effect_at_the_open():
    params, market = market_of(1)
    sessions = schedule([0])
    state = EngineState.initial(start_price=100.0, anchor_time_ms=ny(2026, 11, 23, 15, 50))
    now, open_ = ny(2026, 11, 24, 9, 40), ny(2026, 11, 24, 9, 30)
    for kind, start, end in (
        (GAP, ny(2026, 11, 23, 20), ny(2026, 11, 23, 20)),
        (MOVE, ny(2026, 11, 23, 18), ny(2026, 11, 23, 19)),  # wholly inside the closure
    ):
        events = EventSchedule.from_effects([(0, kind, start, end, 0.1)])
        plain, moved = _pair(events, sessions, state, params, market, now)
        np.testing.assert_array_equal(plain["time_ms"], moved["time_ms"])
        diff = moved["log_price"] - plain["log_price"]
        at = np.flatnonzero(plain["time_ms"] == open_)[0]
        assert not diff[:at].any()
        np.testing.assert_allclose(diff[at:], math.log1p(0.1), rtol=1e-9)
    # a volatility spike that starts while closed scales the steps from the open on
    events = EventSchedule.from_effects(
        [(0, VOLATILITY, ny(2026, 11, 24, 8), ny(2026, 11, 24, 9, 35), 3.0)]
    )
    plain, spiky = _pair(events, sessions, state, params, market, now)
    r_plain, r_spiky = np.diff(plain["log_price"]), np.diff(spiky["log_price"])
    t = plain["time_ms"][1:]
    during = (t > open_) & (t <= ny(2026, 11, 24, 9, 35))
    dt = r_plain[during]
    assert np.std(r_spiky[during]) == pytest.approx(3 * np.std(dt), rel=0.01)
    later = t > ny(2026, 11, 24, 9, 35)
    np.testing.assert_allclose(r_spiky[later], r_plain[later], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(r_spiky[t < open_], r_plain[t < open_])


def test_a_halt_spanning_the_close_ends_there_or_continues_at_the_open():
    params, market = market_of(1)
    sessions = schedule([0])
    state = EngineState.initial(start_price=100.0, anchor_time_ms=ny(2026, 11, 23, 15))
    now = ny(2026, 11, 24, 11)
    # ends while closed: no tick after 15:30, the next at the open
    events = EventSchedule.from_effects(
        [(0, HALT, ny(2026, 11, 23, 15, 30), ny(2026, 11, 23, 18), 0.0)]
    )
    plain, halted = _pair(events, sessions, state, params, market, now)
    t = halted["time_ms"]
    cut = int(np.flatnonzero(np.diff(t) > 100)[0])
    assert t[cut] == ny(2026, 11, 23, 15, 29, 59, 900000) and t[cut + 1] == ny(2026, 11, 24, 9, 30)
    np.testing.assert_array_equal(np.diff(halted["seq"]), 1)
    # from the open on, the same steps as without the halt (the open's step spans both)
    n = len(t) - cut - 1
    np.testing.assert_array_equal(halted["time_ms"][-n:], plain["time_ms"][-n:])
    # continues at the open: the first tick is at the halt's end, its step has the gap in it
    events = EventSchedule.from_effects(
        [(0, HALT, ny(2026, 11, 23, 15, 30), ny(2026, 11, 24, 10), 0.0)]
    )
    _, halted = _pair(events, sessions, state, params, market, now)
    t = halted["time_ms"]
    cut = int(np.flatnonzero(np.diff(t) > 100)[0])
    assert t[cut + 1] == ny(2026, 11, 24, 10)
    clock = market.session_clock(sessions)
    dt, _, _ = clock.path(np.array([0]), np.array([[t[cut], t[cut + 1]]]))
    # the rest of the 23rd after 15:30, the overnight share and the first half hour of the 24th
    assert 0.3 < dt[0, 0] * SESSIONS_PER_YEAR < 0.6


# --------------------------------------------------------------------------------------------------
# bad input


def test_schedule_validation_take_and_a_schedule_that_runs_out():
    with pytest.raises(ValueError, match="end after"):
        SessionSchedule([0], [10], [10], [1], [REGULAR])
    with pytest.raises(ValueError, match="overlap"):
        SessionSchedule([0, 0], [10, 15], [20, 30], [1, 1], [REGULAR, POST])
    with pytest.raises(ValueError, match="kind"):
        SessionSchedule([0], [10], [20], [1], [7])
    with pytest.raises(ValueError, match="same length"):
        SessionSchedule([0, 1], [10], [20], [1], [PRE])
    with pytest.raises(ValueError, match="overnight_share"):
        MarketConfig(overnight_share=1.0)
    with pytest.raises(ValueError, match="extended_activity"):
        MarketConfig(extended_activity=0)
    sessions = schedule([1, 3])
    taken = sessions.take([3, 2], 4)
    assert taken.calendar_rows.tolist() == [0] and len(taken) == len(sessions) // 2
    assert taken.rows_mask(2).tolist() == [True, False]
    # a calendar row without periods in the range is closed throughout
    closed = SessionSchedule([], [], [], [], [], calendar_rows=[0])
    params, market = market_of(1)
    state = EngineState.initial(start_price=10.0, anchor_time_ms=ny(2026, 11, 24, 12))
    assert ev.steps_due(state, params, ny(2026, 11, 25, 12), None, closed).tolist() == [0]
    # asking for ticks beyond the periods given is an error, not ticks at absurd times
    with pytest.raises(ValueError, match="open grid points"):
        ev.advance(params, state, 10**9, market, None, schedule([0]))
    with pytest.raises(ValueError, match="open grid points"):
        ev.rewind(params, state, 10**9, market, None, schedule([0]))
