"""Bridges the database's ticker configurations and the pure-NumPy engine."""

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from django.conf import settings

from .engine import EngineState, MarketConfig, TickBatch, TickerParams, sector_id
from .models import Tick, Ticker, TickerState
from .storage.copy import encode_rows


def market_config() -> MarketConfig:
    return MarketConfig(
        market_seed=settings.MARKET_SEED,
        market_correlation=settings.MARKET_CORRELATION,
        sector_correlation=settings.SECTOR_CORRELATION,
        spread_bps=settings.MARKET_SPREAD_BPS,
        time_scale=settings.MARKET_TIME_SCALE,
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
        }
        for t in tickers
    )


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


def stored_state_at_newest(ticker: Ticker) -> tuple[int, int, float] | None:
    """``(seq, time_ms, log_price)`` at the ticker's newest stored tick, or None without ticks.

    The exact engine state is used when its checkpoint matches the newest tick; otherwise the
    log of the stored (cent-rounded) price continues the path from within half a cent.
    """
    newest = Tick.objects.filter(ticker=ticker).order_by("-time").first()
    if newest is None:
        return None
    checkpoint = TickerState.objects.filter(ticker=ticker).first()
    if checkpoint and checkpoint.seq == newest.seq and checkpoint.time == newest.time:
        return checkpoint.seq, to_ms(checkpoint.time), checkpoint.log_price
    return newest.seq, to_ms(newest.time), math.log(float(newest.price))


def stored_state_at_oldest(ticker: Ticker) -> tuple[int, int, float] | None:
    """``(seq, time_ms, log_price)`` at the ticker's oldest stored tick, or None."""
    oldest = Tick.objects.filter(ticker=ticker).order_by("time").first()
    if oldest is None:
        return None
    return oldest.seq, to_ms(oldest.time), math.log(float(oldest.price))


def engine_state(rows: Sequence[tuple[int, int, float]]) -> EngineState:
    import numpy as np

    seq, time_ms, log_price = zip(*rows) if rows else ((), (), ())
    return EngineState(
        seq=np.array(seq, dtype=np.int64),
        time_ms=np.array(time_ms, dtype=np.int64),
        log_price=np.array(log_price, dtype=np.float64),
    )
