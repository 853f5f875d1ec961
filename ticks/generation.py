"""Forward generation straight into the database (the `generate` command; the live pipeline
adds Redis state and a durable buffer on top of the same steps)."""

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import connection, transaction

from .engine import events as engine_events
from .events import event_schedule
from .market import (
    encode_batch,
    engine_state,
    fresh_start,
    from_ms,
    market_config,
    stored_state_at_newest,
    ticker_params,
    to_ms,
    vol_dumps,
)
from .models import Ticker, TickerState
from .rollup import bars_rollup
from .sessions import session_schedule
from .storage import tick_storage
from .storage.copy import copy_rows

logger = logging.getLogger(__name__)


@dataclass
class GenerateResult:
    ticks: int
    per_ticker: dict[str, int]


def starting_state(ticker: Ticker, *, now_ms: int, max_steps: int) -> tuple:
    """The state generation continues from: the newest stored tick, or, for a ticker without
    ticks, a virtual tick at its start price ``max_steps`` grid points before now (seq -1, so
    the first real tick is seq 0): ``(seq, time_ms, log_price[, vol])``."""
    stored = stored_state_at_newest(ticker)
    if stored is not None:
        return stored
    return fresh_start(ticker, now_ms=now_ms, steps_back=max_steps)


def ticks_generate_steps(*, now: datetime, max_steps: int) -> GenerateResult:
    """Advance every active ticker by up to ``max_steps`` steps on its grid (a calendar ticker's
    open periods only), never past ``now`` (market time: ``ticks.market_time``); write the ticks
    (binary COPY), the exact engine state, and the bars they touch."""
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    tickers = list(Ticker.objects.filter(is_active=True).order_by("symbol"))
    if not tickers:
        return GenerateResult(ticks=0, per_ticker={})
    now_ms = to_ms(now)
    params = ticker_params(tickers)
    state = engine_state([starting_state(t, now_ms=now_ms, max_steps=max_steps) for t in tickers])
    events, _ = event_schedule(tickers)  # scenario events: halts skip grid points
    # calendar tickers: only their open periods' grid points (catch-up over a closure: none)
    sessions = session_schedule(tickers, start_ms=int(state.time_ms.min()), end_ms=now_ms)
    due = engine_events.steps_due(state, params, now_ms, events, sessions)
    steps = np.minimum(due, max_steps)
    batch, new_state = engine_events.advance(
        params, state, steps, market_config(), events, sessions
    )
    if len(batch) == 0:
        return GenerateResult(ticks=0, per_ticker={t.symbol: 0 for t in tickers})
    ids = np.array([t.pk for t in tickers], dtype=np.int64)
    first, last = from_ms(int(batch.time_ms.min())), from_ms(int(batch.time_ms.max()))
    tick_storage().ensure_room(connection, start=first, end=last)
    rows = encode_batch(batch, ids)
    with transaction.atomic(), connection.cursor() as cursor:
        copy_rows(cursor.connection.cursor(), rows)
        for i in np.flatnonzero(steps > 0):
            TickerState.objects.update_or_create(
                ticker=tickers[i],
                defaults={
                    "seq": int(new_state.seq[i]),
                    "time": from_ms(int(new_state.time_ms[i])),
                    "log_price": float(new_state.log_price[i]),
                    "vol_state": vol_dumps(new_state.vol[i]),
                },
            )
        moved = [tickers[i].pk for i in np.flatnonzero(steps > 0)]
        bars_rollup(start=first, end=from_ms(int(batch.time_ms.max()) + 1), tickers=moved)
    per_ticker = {t.symbol: int(n) for t, n in zip(tickers, steps)}
    logger.info("generated %d ticks up to %s", len(batch), last.isoformat())
    return GenerateResult(ticks=len(batch), per_ticker=per_ticker)
