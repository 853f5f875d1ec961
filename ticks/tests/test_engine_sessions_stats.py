"""Trading sessions, statistically (pure engine): over thousands of simulated NYSE sessions the
opening gaps carry the configured share of a session's variance, close-to-close returns have the
configured annual volatility over 252 sessions, and volume and variance are U-shaped over the
day. Each check comes with its power: the same check rejects the model it must tell apart (a
365-day year, a smaller or missing overnight share, a flat day).

The engine runs at a large time scale (a session's variance times ``SCALE``) with one tick a
minute (390 a regular day), no correlation between tickers (independent samples) and no bounds;
returns are read from the exact log prices."""

from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats

from ticks import calendars
from ticks.engine import EngineState, MarketConfig, SessionSchedule, TickerParams
from ticks.engine import events as ev
from ticks.engine.sessions import SESSIONS_PER_YEAR

MINUTE = 60_000
SCALE = 50.0
VOL = 0.25
TICKERS = 8
Q = 0.2


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def config(**market) -> MarketConfig:
    """The market of these tests (``market``: what to change)."""
    base = {"market_seed": 5, "market_correlation": 0.0, "sector_correlation": 0.0}
    return MarketConfig(**{**base, "time_scale": SCALE, **market})


def simulate(years: tuple[int, int], tickers: int = TICKERS, **market) -> dict:
    """Per ticker: its ticks' times, log prices, volumes and session days (regular hours)."""
    start = datetime(years[0], 1, 1, tzinfo=UTC)
    end = datetime(years[1] + 1, 1, 1, tzinfo=UTC)
    s, e, d, k = calendars.period_arrays(
        "XNYS", extended_hours=False, start_ms=ms(start) - 10 * 86_400_000, end_ms=ms(end)
    )
    n = len(s)
    sessions = SessionSchedule(
        np.repeat(np.arange(tickers), n),
        np.tile(s, tickers),
        np.tile(e, tickers),
        np.tile(d, tickers),
        np.tile(k, tickers),
    )
    params = TickerParams.from_rows(
        [
            {"seed": 4000 + i, "drift": 0.0, "volatility": VOL, "interval_ms": MINUTE}
            for i in range(tickers)
        ]
    )
    market = config(**market)
    state = EngineState.initial(start_price=100.0, anchor_time_ms=np.full(tickers, ms(start)))
    parts = []
    for year in range(years[0], years[1] + 1):  # a year per call: bounded memory
        now = ms(datetime(year + 1, 1, 1, tzinfo=UTC))
        due = ev.steps_due(state, params, now, None, sessions)
        batch, state = ev.advance(params, state, due, market, None, sessions)
        parts.append(batch)
    batch = ev._merge(parts)
    per = []
    for i in range(tickers):
        rows = batch.ticker_index == i
        t, x, v = batch.time_ms[rows], batch.log_price[rows], batch.volume[rows]
        day = d[np.searchsorted(s, t, side="right") - 1]
        per.append((t, x, v, day))
    return {"market": market, "sessions": sessions, "per": per}


@pytest.fixture(scope="module")
def sim():
    return simulate((2016, 2020))  # 1,259 sessions x 8 tickers


def session_edges(day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each session's first and last tick."""
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    ends = np.r_[starts[1:] - 1, len(day) - 1]
    return starts, ends


def gaps(sim, market: MarketConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every opening gap (the first tick's return), and its variance by the business clock
    of ``market`` (default: the simulation's): q vol²/252 times the time scale, plus the
    previous session's last minute (the step from its last tick to the close is part of the
    gap's step)."""
    market = market or sim["market"]
    clock = market.session_clock(sim["sessions"])
    values, expected = [], []
    for i, (t, x, _, day) in enumerate(sim["per"]):
        first = session_edges(day)[0][1:]
        values.append(x[first] - x[first - 1])
        pairs = np.stack([t[first - 1], t[first]], axis=1)
        dt = clock.path(np.full(len(pairs), i), pairs)[0][:, 0]
        expected.append(VOL**2 * dt * market.time_scale)
    return np.concatenate(values), np.concatenate(expected)


def chi2_interval(n: int, level: float = 0.99) -> tuple[float, float]:
    """99% interval of a sample variance / true variance over n independent normal samples."""
    tail = (1 - level) / 2
    return stats.chi2.ppf(tail, n) / n, stats.chi2.ppf(1 - tail, n) / n


def gap_ratio(values: np.ndarray, expected: np.ndarray) -> float:
    """Mean squared gap over its expected variance (~ chi²(n)/n when they agree)."""
    return float(np.mean(values * values / expected))


# --------------------------------------------------------------------------------------------------


def test_opening_gaps_carry_the_overnight_share_within_its_99_percent_interval(sim):
    values, expected = gaps(sim)
    target = Q * VOL**2 / SESSIONS_PER_YEAR * SCALE
    # the expected variance is the share, plus the closing minute's accrual (about 2%)
    assert 1.0 < np.mean(expected) / target < 1.04
    lo, hi = chi2_interval(len(values))
    assert len(values) > 9000
    ratio = gap_ratio(values, expected)
    assert lo < ratio < hi, (ratio, lo, hi)
    # on the share's own scale: the gaps' variance over q vol²/252 (times the closing minute)
    measured = np.var(values) / target
    assert lo * 0.99 < measured / (np.mean(expected) / target) < hi * 1.01


@pytest.mark.parametrize("share", [0.0, 0.1])
def test_the_gap_check_has_power(share):
    """An engine with a smaller (or no) overnight share fails the same check."""
    wrong = simulate((2019, 2019), tickers=4, overnight_share=share)
    values, expected = gaps(wrong, config(overnight_share=Q))  # the configured share's
    ratio = gap_ratio(values, expected)
    lo, hi = chi2_interval(len(values))
    assert not lo < ratio < hi
    assert ratio < 0.7


def close_to_close(sim) -> np.ndarray:
    out = []
    for _, x, _, day in sim["per"]:
        _, last = session_edges(day)
        out.append(np.diff(x[last]))
    return np.concatenate(out)


def annualized(returns: np.ndarray) -> float:
    """Close-to-close returns' volatility over 252 sessions (time scale taken out)."""
    return float(np.sqrt(np.var(returns) * SESSIONS_PER_YEAR / SCALE))


def test_daily_returns_have_the_configured_annual_volatility_over_252_sessions(sim):
    returns = close_to_close(sim)
    assert len(returns) > 9000
    assert annualized(returns) == pytest.approx(VOL, rel=0.10)
    # (the estimate is much tighter than the tolerance: its standard error is under 1%)
    assert annualized(returns) == pytest.approx(VOL, rel=0.03)


def test_the_daily_check_has_power_against_a_365_day_year():
    """An engine that took a year for 365 days (a 24/7 market's) instead of 252 sessions has
    daily variance vol²/365: the same check rejects it."""
    wrong = simulate((2019, 2019), tickers=4, time_scale=SCALE * SESSIONS_PER_YEAR / 365)
    measured = annualized(close_to_close(wrong))
    assert measured != pytest.approx(VOL, rel=0.10)
    assert measured == pytest.approx(VOL * np.sqrt(SESSIONS_PER_YEAR / 365), rel=0.05)


def by_minute(sim, lo: int, hi: int) -> tuple[float, float]:
    """Mean volume per tick and realized variance per minute from minute ``lo`` to ``hi`` of
    the regular session (0: 9:30), over full 390-minute days (a tick a minute: tick j is at
    minute j, its return covers minute j - 1; the first tick's return is the opening gap)."""
    volume, squares = [], []
    for _, x, v, day in sim["per"]:
        first, last = session_edges(day)
        full = first[(last - first) == 389]
        ticks = full[:, None] + np.arange(lo, hi)
        volume.append(v[ticks].ravel())
        covering = full[:, None] + np.arange(max(lo, 0) + 1, min(hi, 389) + 1)
        returns = (x[covering] - x[covering - 1]).ravel()
        squares.append(returns * returns)
    return float(np.mean(np.concatenate(volume))), float(np.mean(np.concatenate(squares)))


def u_ratios(sim) -> tuple[float, ...]:
    """First and last 30 minutes over 12:00-14:00: volume (first, last), variance (both)."""
    first, last, midday = by_minute(sim, 0, 30), by_minute(sim, 360, 390), by_minute(sim, 150, 270)
    return (
        first[0] / midday[0],
        last[0] / midday[0],
        first[1] / midday[1],
        last[1] / midday[1],
    )


def test_volume_and_variance_are_u_shaped_over_the_day(sim):
    ratios = u_ratios(sim)
    # the first and last 30 minutes: at least 1.5x the midday average, with margin (about 2.3x)
    assert min(ratios) > 1.5 * 1.25, ratios
    assert max(ratios) < 3.5, ratios


def test_the_u_check_has_power_against_a_flat_day():
    flat = simulate((2019, 2019), tickers=4, intraday_amplitude=0.0)
    ratios = u_ratios(flat)
    assert max(ratios) < 1.5, ratios
    assert min(ratios) > 0.8, ratios
