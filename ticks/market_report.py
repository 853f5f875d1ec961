"""The stylized-facts report (``manage.py market_report``): per ticker, on its stored 1-minute
bars, the figures real markets are known for, each next to its target range.

Returns are close-to-close log returns of consecutive minutes (a missing minute leaves a gap,
never a long return); annualized with the market's time scale (a wall minute is
``60 * MARKET_TIME_SCALE`` simulated seconds of a 365-day year).
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings

from .market import to_ms
from .models import Bar, Ticker
from .stylized_facts import (
    Check,
    acf,
    excess_kurtosis,
    hill_tail_index,
    leverage,
    realized_volatility,
)

MINUTE_MS = 60_000
MIN_RETURNS = 30
ACF_R_LAGS = (1, 2, 3, 4, 5)
ACF_ABS_LAGS = (1, 10, 100)
LEVERAGE_HORIZON = 10


class ReportError(ValueError):
    """A report that cannot be made (no data); the message says why."""


@dataclass
class MinuteSeries:
    """A ticker's 1-minute bars on a regular minute grid (NaN where a minute has no bar)."""

    start_ms: int
    close: np.ndarray
    volume: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        return np.diff(np.log(self.close))

    @property
    def bars(self) -> int:
        return int(np.isfinite(self.close).sum())


@dataclass
class TickerReport:
    symbol: str
    model: str
    returns: int
    checks: list[Check] = field(default_factory=list)
    series: MinuteSeries | None = None


def minute_series(*, ticker: Ticker, start: datetime, end: datetime) -> MinuteSeries | None:
    """The ticker's 1m bars in [start, end) on a minute grid, or None without any."""
    rows = list(
        Bar.objects.filter(ticker=ticker, timeframe="1m", time__gte=start, time__lt=end)
        .order_by("time")
        .values_list("time", "close", "volume")
    )
    if not rows:
        return None
    times = np.array([to_ms(t) for t, _, _ in rows], dtype=np.int64)
    first = int(times[0])
    index = (times - first) // MINUTE_MS
    close = np.full(int(index[-1]) + 1, np.nan)
    volume = np.full(len(close), np.nan)
    close[index] = [float(c) for _, c, _ in rows]
    volume[index] = [float(v) for _, _, v in rows]
    return MinuteSeries(start_ms=first, close=close, volume=volume)


def ticker_report(ticker: Ticker, series: MinuteSeries) -> TickerReport:
    r = series.returns
    n = int(np.isfinite(r).sum())
    band = 3 / math.sqrt(n)
    dt = MINUTE_MS / 1000 * settings.MARKET_TIME_SCALE / (365 * 86_400)
    report = TickerReport(ticker.symbol, ticker.volatility_model, n, series=series)
    add = report.checks.append
    # `volatility` excludes the jumps; realized returns include them: sigma² + rate E[Y²]
    jumps = ticker.jump_rate * (ticker.jump_mean**2 + ticker.jump_spread**2)
    sigma = math.sqrt(float(ticker.volatility) ** 2 + jumps)
    add(
        Check(
            "realized volatility (annualized)", realized_volatility(r, dt), 0.9 * sigma, 1.1 * sigma
        )
    )
    add(Check("excess kurtosis", excess_kurtosis(r), 1.0, math.inf))
    add(Check("Hill tail index of |r| (top 1%)", hill_tail_index(np.abs(r), 0.01), 2.0, 5.0))
    for lag, value in zip(ACF_R_LAGS, acf(r, ACF_R_LAGS)):
        add(Check(f"ACF of r, lag {lag}", value, -band, band))
    for lag, value in zip(ACF_ABS_LAGS, acf(np.abs(r), ACF_ABS_LAGS)):
        add(Check(f"ACF of |r|, lag {lag} min", value, band, math.inf))
    corr, se = leverage(r, LEVERAGE_HORIZON)
    limit = -3 * se if math.isfinite(se) else -band
    add(Check(f"leverage corr(r, |r| next {LEVERAGE_HORIZON} min)", corr, -math.inf, limit))
    v, a = series.volume[1:], np.abs(r)
    ok = np.isfinite(v) & np.isfinite(a)
    vol_corr = float(np.corrcoef(v[ok], a[ok])[0, 1]) if ok.sum() > 2 else math.nan
    add(Check("corr(volume, |r|)", vol_corr, band, math.inf))
    return report


def market_report(*, tickers: list[Ticker], days: float, now: datetime) -> list[TickerReport]:
    """The report of each ticker over the last ``days`` before ``now``; ReportError when a
    ticker has too little data."""
    start = now - timedelta(days=days)
    reports, missing = [], []
    for ticker in tickers:
        series = minute_series(ticker=ticker, start=start, end=now)
        if series is None or np.isfinite(series.returns).sum() < MIN_RETURNS:
            missing.append(ticker.symbol)
            continue
        reports.append(ticker_report(ticker, series))
    if missing:
        raise ReportError(
            f"Not enough 1-minute bars in the last {days:g} day(s) for {', '.join(missing)} "
            f"(at least {MIN_RETURNS + 1} consecutive minutes are needed); generate or backfill "
            "some first (manage.py backfill)."
        )
    return reports
