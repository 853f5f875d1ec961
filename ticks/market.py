"""Bridges the database's ticker configurations and the pure-NumPy engine."""

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from django.conf import settings

from .engine import (
    MODELS,
    N_COMPONENTS,
    EngineState,
    MarketConfig,
    TickBatch,
    TickerParams,
    advance,
    sector_id,
)
from .models import Tick, Ticker, TickerState
from .storage.copy import encode_rows


def market_config() -> MarketConfig:
    return MarketConfig(
        market_seed=settings.MARKET_SEED,
        market_correlation=settings.MARKET_CORRELATION,
        sector_correlation=settings.SECTOR_CORRELATION,
        spread_bps=settings.MARKET_SPREAD_BPS,
        time_scale=settings.MARKET_TIME_SCALE,
        overnight_share=settings.MARKET_OVERNIGHT_SHARE,
    )


def ticker_params(tickers: Sequence[Ticker]) -> TickerParams:
    return TickerParams.from_rows(
        {
            "seed": t.seed,
            "drift": t.drift,
            "volatility": t.volatility,
            "interval_ms": t.tick_interval_ms,
            "min_price": float(t.min_price),
            "max_price": float(t.max_price),
            "sector": sector_id(t.sector),
            "volatility_model": MODELS.index(t.volatility_model),
            "vol_of_vol": t.vol_of_vol,
            "vol_half_lives": (t.vol_half_life_short, t.vol_half_life_long),
            "leverage": t.leverage,
            "jump_rate": t.jump_rate,
            "jump_mean": t.jump_mean,
            "jump_spread": t.jump_spread,
        }
        for t in tickers
    )


def vol_dumps(vol) -> list[str] | None:
    """Volatility factors as float.hex strings (exact), or None when unknown (nan)."""
    values = [float(v) for v in np.ravel(vol)] if vol is not None else []
    if len(values) != N_COMPONENTS or any(math.isnan(v) for v in values):
        return None
    return [v.hex() for v in values]


def vol_loads(raw) -> tuple[float, ...] | None:
    """The inverse of ``vol_dumps`` (None, or a malformed value: unknown)."""
    if not isinstance(raw, list | tuple) or len(raw) != N_COMPONENTS:
        return None
    try:
        values = tuple(float.fromhex(v) if isinstance(v, str) else float(v) for v in raw)
    except (TypeError, ValueError):
        return None
    return values if all(math.isfinite(v) for v in values) else None


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (exact for millisecond-grid times)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(microsecond=(int(ms) % 1000) * 1000)


def first_grid_at_or_after(ms: int, interval_ms: int) -> int:
    return -(-ms // interval_ms) * interval_ms


def grid_point_before(now_ms: int, interval_ms: int, *, steps_back: int = 1) -> int:
    """The grid time ``steps_back`` ticks before the last grid point at or before ``now_ms``
    (``steps_back=1``: the one before, so that the next tick due is the latest grid point)."""
    return (now_ms // interval_ms - steps_back) * interval_ms


def fresh_start(ticker: Ticker, *, now_ms: int, steps_back: int = 1) -> tuple[int, int, float]:
    """``(seq, time_ms, log_price)`` of a ticker that has no ticks yet: a virtual tick at its
    start price ``steps_back`` grid points before now, seq -1 (so its first real tick is
    seq 0)."""
    return (
        -1,
        grid_point_before(now_ms, ticker.tick_interval_ms, steps_back=steps_back),
        math.log(float(ticker.start_price)),
    )


def encode_batch(batch: TickBatch, ticker_ids) -> bytes:
    """The binary COPY rows of an engine batch; ``ticker_ids[i]`` is the database id of the
    batch's ticker ``i`` (a NumPy int64 array)."""
    return encode_rows(
        ticker_id=ticker_ids[batch.ticker_index],
        time_ms=batch.time_ms,
        seq=batch.seq,
        price_cents=batch.price_cents,
        bid_cents=batch.bid_cents,
        ask_cents=batch.ask_cents,
        volume=batch.volume,
    )


def stored_state_at_newest(ticker: Ticker) -> tuple[int, int, float, tuple | None] | None:
    """``(seq, time_ms, log_price, vol)`` at the ticker's newest stored tick, or None without
    ticks.

    The exact engine state is used when its checkpoint matches the newest tick; otherwise the
    log of the stored (cent-rounded) price continues the path from within half a cent, and the
    volatility factors are unknown (None: the engine starts them from a stationary draw).
    """
    newest = Tick.objects.filter(ticker=ticker).order_by("-time").first()
    if newest is None:
        return None
    checkpoint = TickerState.objects.filter(ticker=ticker).first()
    if checkpoint and checkpoint.seq == newest.seq and checkpoint.time == newest.time:
        return (
            checkpoint.seq,
            to_ms(checkpoint.time),
            checkpoint.log_price,
            vol_loads(checkpoint.vol_state),
        )
    return newest.seq, to_ms(newest.time), math.log(float(newest.price)), None


def stored_state_at_oldest(ticker: Ticker) -> tuple[int, int, float, tuple | None] | None:
    """``(seq, time_ms, log_price, vol)`` at the ticker's oldest stored tick, or None.

    The volatility factors (a backfill of a ``stochastic`` ticker continues them backwards) are
    the ones a backfill stored for that tick; for a live series' first tick (seq 0) they are
    recomputed exactly, as the live market stepped there from its fresh start; otherwise unknown.
    """
    oldest = Tick.objects.filter(ticker=ticker).order_by("time").first()
    if oldest is None:
        return None
    seq, time_ms, log_price = oldest.seq, to_ms(oldest.time), math.log(float(oldest.price))
    vol = None
    checkpoint = TickerState.objects.filter(ticker=ticker).first()
    if checkpoint is not None and checkpoint.oldest_seq == seq:
        vol = vol_loads(checkpoint.oldest_vol_state)
    elif seq == 0 and ticker.volatility_model != "constant":
        vol = first_tick_vol(ticker, time_ms)
    return seq, time_ms, log_price, vol


def first_tick_vol(ticker: Ticker, time_ms: int) -> tuple | None:
    """The volatility factors at a series' first tick (seq 0): one engine step from the fresh
    start's virtual tick (seq -1, one interval before, factors unknown), as ``fresh_start``."""
    params = ticker_params([ticker])
    virtual = EngineState.initial(
        start_price=1.0, anchor_time_ms=time_ms - ticker.tick_interval_ms, seq=-1
    )
    _, state = advance(params, virtual, 1, market_config())
    return vol_loads(vol_dumps(state.vol[0]))


def engine_state(rows: Sequence[tuple]) -> EngineState:
    """Engine state of ``(seq, time_ms, log_price[, vol])`` rows (vol None: unknown)."""
    seq = np.array([r[0] for r in rows], dtype=np.int64)
    time_ms = np.array([r[1] for r in rows], dtype=np.int64)
    log_price = np.array([r[2] for r in rows], dtype=np.float64)
    vol = np.full((len(rows), N_COMPONENTS), np.nan)
    for i, row in enumerate(rows):
        if len(row) > 3 and row[3] is not None:
            vol[i] = row[3]
    return EngineState(seq=seq, time_ms=time_ms, log_price=log_price, vol=vol)
