"""From log prices and noise to what a tick carries: price, bid, ask (integer cents) and volume."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .params import TickerParams

__all__ = [
    "LOG_PRICE_CAP",
    "MAX_PRICE_CENTS",
    "TickBatch",
    "cent_limits",
    "fill_quotes",
    "spread_factor",
]

#: Prices above $1e15 are shown as $1e15 (the exp() argument is capped at 36, e^36 > 1e15, then the
#: cents at 1e17), so that int64 cents (and the ask, at most twice the price) can never overflow.
#: Only reachable with the bounds off at absurd time scales; ``log_price`` itself is not capped.
LOG_PRICE_CAP = 36.0
MAX_PRICE_CENTS = 10**17
_MAX_VOLUME = 4e18  # int64 safety only (needs an absurd base_volume)
MIN_PRICE_CENTS = 2  # so that bid = price - half-spread >= 1 cent


@dataclass(eq=False)
class TickBatch:
    """M ticks as flat arrays, grouped by ticker (ticker 0 first), ascending seq within a ticker."""

    ticker_index: np.ndarray  # int32, index into the N tickers
    seq: np.ndarray  # int64
    time_ms: np.ndarray  # int64, epoch milliseconds
    price_cents: np.ndarray  # int64
    bid_cents: np.ndarray  # int64
    ask_cents: np.ndarray  # int64
    volume: np.ndarray  # int64, >= 1
    log_price: np.ndarray  # float64, reflected (bounded) log price: log(price in currency units)

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def empty(cls) -> TickBatch:
        i64 = np.empty(0, dtype=np.int64)
        return cls(
            np.empty(0, dtype=np.int32),
            i64,
            i64.copy(),
            i64.copy(),
            i64.copy(),
            i64.copy(),
            i64.copy(),
            np.empty(0, dtype=np.float64),
        )

    def offsets(self, n_tickers: int) -> np.ndarray:
        """Start of each ticker's ticks, length n_tickers + 1: ticker i is [off[i], off[i+1])."""
        return np.searchsorted(self.ticker_index, np.arange(n_tickers + 1), side="left")

    def take(self, index: np.ndarray) -> TickBatch:
        return TickBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def cent_limits(params: TickerParams) -> tuple[np.ndarray, np.ndarray]:
    """Per-ticker [lowest, highest] allowed price in cents (float64), from the bounds.

    Reflection keeps the log price inside the bounds; this only stops the rounding to the cent from
    stepping a fraction of a cent outside them (min 50.004 => lowest price 50.01).
    """
    lo, hi = params.min_price, params.max_price
    with np.errstate(invalid="ignore"):
        lo_c = np.where(lo > 0, np.ceil(lo * 100 - 1e-6), MIN_PRICE_CENTS)
        hi_c = np.where(np.isfinite(hi), np.floor(hi * 100 + 1e-6), MAX_PRICE_CENTS)
    lo_c = np.maximum(lo_c, MIN_PRICE_CENTS)
    return lo_c.astype(np.float64), np.maximum(hi_c, lo_c).astype(np.float64)


def spread_factor(volatility: np.ndarray, spread_bps: float) -> np.ndarray:
    """Half-spread as a fraction of the price: spread_bps * max(vol, 0.01) / 0.2 / 2 / 1e4."""
    return spread_bps * np.maximum(volatility, 0.01) / 0.2 / 2.0 / 1e4


def fill_quotes(
    y: np.ndarray,
    z: np.ndarray,
    v: np.ndarray,
    lo_c: np.ndarray,
    hi_c: np.ndarray,
    half_frac: np.ndarray,
    base_volume: float,
    volume_scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Price, bid, ask and volume (int64 arrays shaped like ``y``).

    ``y``: reflected log price; ``z``: the tick's return noise (read only); ``v``: its volume noise
    (OVERWRITTEN, used as scratch). ``lo_c``, ``hi_c``, ``half_frac`` broadcast against ``y``;
    ``volume_scale`` (stochastic volatility, jumps), if given, multiplies the volume.
    """
    tmp = np.minimum(y, LOG_PRICE_CAP)
    np.exp(tmp, out=tmp)
    tmp *= 100.0
    np.rint(tmp, out=tmp)
    np.maximum(tmp, lo_c, out=tmp)
    np.minimum(tmp, hi_c, out=tmp)
    price = tmp.astype(np.int64)
    # half-spread: max(1, round(price * bps_eff / 2e4)), and at most price - 1 so that bid >= 1
    tmp *= half_frac
    np.rint(tmp, out=tmp)
    np.maximum(tmp, 1.0, out=tmp)
    half = tmp.astype(np.int64)
    np.minimum(half, price - 1, out=half)
    bid = price - half
    half += price
    ask = half
    # volume: base * (0.5 + |Z|) * exp(V / 2), a positive integer, larger when |return| is larger
    v *= 0.5
    np.exp(v, out=v)
    np.abs(z, out=tmp)
    tmp += 0.5
    tmp *= v
    if volume_scale is not None:
        tmp *= volume_scale
    tmp *= base_volume
    np.rint(tmp, out=tmp)
    np.clip(tmp, 1.0, _MAX_VOLUME, out=tmp)
    volume = tmp.astype(np.int64)
    return price, bid, ask, volume
