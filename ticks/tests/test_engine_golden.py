"""Golden test: the ``constant`` model is today's GBM, bit for bit.

``data/engine_golden.json`` holds a few hundred ticks per ticker (seq, time, price, bid, ask,
volume and the exact log price) of forward and backward runs, for fixed seeds, several tickers,
sectors and intervals, with and without bounds, as the engine produced them before stochastic
volatility and jumps were added. Every later engine must reproduce them exactly for tickers on
the ``constant`` model without jumps (the default).

Regenerate (only for a deliberate change of every path): ``python -m ticks.tests.test_engine_golden``.
"""

import json
from pathlib import Path

import numpy as np

from ticks.engine import EngineState, MarketConfig, TickerParams, advance, rewind
from ticks.engine.speed import seed_params

GOLDEN = Path(__file__).parent / "data" / "engine_golden.json"
ANCHOR = 1_700_000_000_000
FIELDS = ("seq", "time_ms", "price_cents", "bid_cents", "ask_cents", "volume")


def _mixed() -> tuple[TickerParams, EngineState, MarketConfig]:
    params = TickerParams.from_rows(
        [
            {"seed": 11, "drift": 0.05, "volatility": 0.2, "interval_ms": 100,
             "sector": "Technology", "min_price": 10, "max_price": 1000},
            {"seed": 12, "drift": 0.08, "volatility": 0.3, "interval_ms": 100,
             "sector": "Technology"},
            {"seed": 13, "drift": -0.03, "volatility": 0.15, "interval_ms": 250,
             "sector": "Finance"},
            {"seed": 14, "drift": 0.02, "volatility": 0.6, "interval_ms": 1000,
             "sector": "Energy", "min_price": 50, "max_price": 80},
        ]
    )  # fmt: skip
    state = EngineState.initial(start_price=[150.0, 320.0, 85.0, 65.0], anchor_time_ms=ANCHOR)
    return params, state, MarketConfig(market_seed=3, time_scale=50_000.0)


def _seed() -> tuple[TickerParams, EngineState, MarketConfig]:
    params, starts = seed_params(5)
    state = EngineState.initial(start_price=starts, anchor_time_ms=ANCHOR + 30, seq=-1)
    return params, state, MarketConfig(market_seed=1)


CASES = {"mixed": _mixed, "seed": _seed}


def _runs(name: str) -> dict[str, dict]:
    params, state, market = CASES[name]()
    forward, _ = advance(params, state, 300, market)
    backward, _ = rewind(params, state, 200, market)
    out = {}
    for label, batch in (("advance", forward), ("rewind", backward)):
        per = {}
        for i in range(len(params)):
            sel = batch.ticker_index == i
            per[str(i)] = {f: getattr(batch, f)[sel].tolist() for f in FIELDS}
            per[str(i)]["log_price"] = [v.hex() for v in batch.log_price[sel].tolist()]
        out[label] = per
    return out


def test_constant_model_is_todays_gbm_bit_for_bit():
    golden = json.loads(GOLDEN.read_text())
    assert set(golden) == set(CASES)
    for name in CASES:
        got = _runs(name)
        for label in ("advance", "rewind"):
            for i, expected in golden[name][label].items():
                actual = got[label][i]
                for f in (*FIELDS, "log_price"):
                    assert actual[f] == expected[f], (name, label, i, f)
    # a few hundred ticks per ticker and direction, really pinned
    assert len(golden["seed"]["advance"]["0"]["price_cents"]) == 300
    assert np.unique(golden["mixed"]["advance"]["3"]["price_cents"]).size > 50


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps({name: _runs(name) for name in CASES}, separators=(",", ":")))
