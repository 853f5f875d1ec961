"""The engine's output for a ticker does not depend on which tickers are stepped with it: the
premise of sharded generation (``ticks.shards``). Every model, intervals, sectors, bounds,
off-grid anchors and ragged step counts, forwards and backwards; no Django."""

import numpy as np
import pytest

from ticks.engine import EngineState, MarketConfig, TickerParams, advance, rewind

FIELDS = ("seq", "time_ms", "price_cents", "bid_cents", "ask_cents", "volume", "log_price")
ANCHOR = 1_700_000_000_000


def _market(n: int, rng):
    rows = []
    for i in range(n):
        row = {
            "seed": int(rng.integers(1, 10**9)),
            "drift": float(rng.normal(0, 0.1)),
            "volatility": float(rng.uniform(0.05, 0.8)),
            "interval_ms": int(rng.choice([100, 250, 1000])),
            "sector": str(rng.choice(["Technology", "Energy", "Finance"])),
        }
        if i % 3 == 0:
            row.update(min_price=50, max_price=200)
        if i % 4 == 1:
            row.update(jump_rate=200_000, jump_mean=-0.01, jump_spread=0.02)
        if i % 4 == 2:
            row.update(volatility_model="stochastic")
        if i % 4 == 3:
            row.update(volatility_model="stochastic", jump_rate=100_000, jump_spread=0.03)
        rows.append(row)
    params = TickerParams.from_rows(rows)
    anchors = [ANCHOR + (int(rng.integers(1, 50)) if i % 5 == 0 else 0) for i in range(n)]
    state = EngineState.initial(
        start_price=rng.uniform(60, 190, n), anchor_time_ms=anchors, seq=rng.integers(-5, 5000, n)
    )
    steps = rng.integers(0, 1500, n)
    steps[::7] = 1  # the live case: one step, next to long catch-ups (ragged groups)
    return params, state, steps


def _per_ticker(batch, new, n: int) -> list[bytes]:
    """Each ticker's ticks and new state as bytes (bit-for-bit comparison)."""
    off = batch.offsets(n)
    return [
        b"".join(getattr(batch, f)[off[i] : off[i + 1]].tobytes() for f in FIELDS)
        + new.seq[i].tobytes()
        + new.time_ms[i].tobytes()
        + new.log_price[i].tobytes()
        + new.vol[i].tobytes()
        for i in range(n)
    ]


@pytest.mark.parametrize("step", [advance, rewind], ids=["advance", "rewind"])
@pytest.mark.parametrize("seed", [5, 6])
def test_a_tickers_ticks_do_not_depend_on_the_tickers_stepped_with_it(step, seed):
    rng = np.random.default_rng(seed)
    n = 48
    params, state, steps = _market(n, rng)
    # a simulated minute per wall second: jumps happen and the volatility moves
    market = MarketConfig(time_scale=60.0)
    together = _per_ticker(*step(params, state, steps, market), n)
    splits = {
        "one by one": [np.array([i]) for i in range(n)],
        "2 shards (id mod 2)": [np.arange(0, n, 2), np.arange(1, n, 2)],
        "3 shards (id mod 3)": [np.arange(k, n, 3) for k in range(3)],
        "a shuffled half": [rng.permutation(n)[: n // 2]],
    }
    for name, parts in splits.items():
        for part in parts:
            alone = _per_ticker(
                *step(params.take(part), state.take(part), steps[part], market), len(part)
            )
            for j, i in enumerate(part.tolist()):
                assert alone[j] == together[i], (name, i)
