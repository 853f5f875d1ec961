"""The GBM stepper: forward (``advance``) and backward from the earliest tick (``rewind``); the
bounds are ``bounds``'s.

Everything is vectorized over tickers and steps. Tickers with very different step counts are put in
separate groups (by powers of two), so padding a ragged request to a rectangle wastes at most half.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import noise, sessions
from .bounds import log_bounds, reflect_inplace
from .extended import Extended
from .params import EngineState, MarketConfig, TickerParams
from .quotes import TickBatch, cent_limits, fill_quotes, spread_factor

__all__ = ["YEAR_MS", "advance", "rewind", "steps_due"]

#: Target size of one group of tickers processed together (rows x padded steps).
GROUP_TICKS = 1 << 18

#: Milliseconds in a simulated year: the market trades 24/7, so a year is 365 days of 86,400 s.
YEAR_MS = 365 * 86_400 * 1000


# --------------------------------------------------------------------------------------------------
# argument checks


def _check(params: TickerParams, state: EngineState, market: MarketConfig) -> None:
    if not isinstance(params, TickerParams):
        raise TypeError("params must be a TickerParams")
    if not isinstance(state, EngineState):
        raise TypeError("state must be an EngineState")
    if not isinstance(market, MarketConfig):
        raise TypeError("market must be a MarketConfig")
    if len(params) != len(state):
        raise ValueError(f"params has {len(params)} tickers but state has {len(state)}")


def _steps_array(steps: Any, n: int) -> np.ndarray:
    raw = np.asarray(steps)
    if raw.dtype.kind not in "iu" and not (raw.dtype.kind == "f" and np.all(raw == np.floor(raw))):
        raise ValueError("steps must be integers")
    k = np.broadcast_to(raw.astype(np.int64), (n,)) if raw.ndim == 0 else raw.astype(np.int64)
    if k.shape != (n,):
        raise ValueError(f"steps must be an int or an array of {n} ints, got shape {raw.shape}")
    if np.any(k < 0):
        raise ValueError("steps must be >= 0")
    return k


def steps_due(state: EngineState, params: TickerParams, now_ms: Any) -> np.ndarray:
    """Grid points t (multiples of interval_ms since the epoch) with time_ms < t <= now_ms.

    This is the number of ticks to generate to catch up with ``now_ms`` (0 if none is due).
    """
    if len(params) != len(state):
        raise ValueError(f"params has {len(params)} tickers but state has {len(state)}")
    now = np.asarray(now_ms, dtype=np.int64)
    iv = params.interval_ms
    return np.maximum(now // iv - state.time_ms // iv, 0)


# --------------------------------------------------------------------------------------------------
# one group of tickers (similar step counts), padded to a rectangle


class _Group:
    """Arrays of the tickers ``g`` that ``advance``/``rewind`` need, restricted to the group."""

    def __init__(
        self,
        params: TickerParams,
        state: EngineState,
        k: np.ndarray,
        g: np.ndarray,
        market: MarketConfig,
        extended: bool = False,
        overlay=None,
        clock=None,
    ) -> None:
        self.g = g
        # scenario events (``events.Overlay``): None for a group no event touches
        self.overlay = None if overlay is None else overlay.bind(g)
        # trading sessions (``sessions.SessionClock``): only groups of calendar tickers have one
        self.clock = clock
        self.k = k[g]
        self.K = int(self.k.max())
        self.ragged = bool(self.k.min() != self.K)
        self.seed = params.seed[g]
        self.iv = params.interval_ms[g]
        self.sector = params.sector[g]
        self.mu = params.drift[g]
        self.sigma = params.volatility[g]
        self.seq0 = state.seq[g]
        self.t0 = state.time_ms[g]
        self.x0 = state.log_price[g]
        self.market = market
        lo, hi = log_bounds(params)
        self.log_lo, self.log_hi = lo[g], hi[g]
        lo_c, hi_c = cent_limits(params)
        self.lo_c, self.hi_c = lo_c[g], hi_c[g]
        self.half = spread_factor(self.sigma, market.spread_bps)
        # (mu - sigma^2/2) and the dt conversion, computed once so that every use is bit-identical
        self.drift_term = self.mu - 0.5 * self.sigma * self.sigma
        self.dt_per_ms = market.time_scale / YEAR_MS
        # jumps stay per tick: their intensity per ms of ticks (a calendar ticker's year of
        # ticks is 252 sessions of 6.5 hours, see ``sessions.SESSION_YEAR_MS``)
        self.jump_dt_per_ms = (
            self.dt_per_ms if clock is None else market.time_scale / sessions.SESSION_YEAR_MS
        )
        # stochastic volatility / jumps: only groups of such tickers (plain GBM never is)
        self.ext = Extended(self, params, state, g) if extended else None

    def alloc(self, cols: int) -> np.ndarray:
        # zeros when ragged: the padding must hold finite numbers (it is computed, then dropped)
        return np.zeros((len(self.g), cols)) if self.ragged else np.empty((len(self.g), cols))

    def coefficients(self, dt_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact GBM step in log space: x += a + b*Z, a = (mu - s²/2) dt, b = s sqrt(dt)."""
        dt = dt_ms.astype(np.float64) * self.dt_per_ms
        return self.drift_term * dt, self.sigma * np.sqrt(dt)

    def business_dt(self, times: np.ndarray, backward: bool) -> np.ndarray:
        """Sessions: each step's dt in years on the business clock, times the time scale, from
        the state's time and the ticks' ``times``; keeps the profile's level at the ticks."""
        points = np.empty((len(self.g), times.shape[1] + 1), dtype=np.int64)
        points[:, 0] = self.t0
        points[:, 1:] = times
        dt, self.level, self.extended_hours = self.clock.path(self.g, points, backward)
        dt *= self.market.time_scale
        return dt

    def session_increments(self, z: np.ndarray, dt: np.ndarray) -> np.ndarray:
        """Sessions, plain GBM: x = (mu - s²/2) dt + s sqrt(dt) Z with a dt per step."""
        x = np.sqrt(dt)
        x *= self.sigma[:, None]
        x *= z
        x += self.drift_term[:, None] * dt
        return x

    def fill(
        self,
        out: np.ndarray,
        key0: list[int],
        key1: list[int],
        start: np.ndarray,
        count: np.ndarray,
        reverse: bool,
        col: int = 0,
    ) -> None:
        """Row r, columns col .. col+count-1 := draws start .. start+count-1 of stream
        (key0[r], key1[r]), reversed if asked. Rows asking for the same draws are copied."""
        fill = noise.fill
        seen: dict[tuple[int, int, int, int], int] = {}
        for r, (k0, k1, s, n) in enumerate(zip(key0, key1, start.tolist(), count.tolist())):
            if n:
                view = out[r, col : col + n]
                first = seen.setdefault((k0, k1, s, n), r)
                if first != r:  # a factor shared with an earlier row
                    view[:] = out[first, col : col + n]
                else:
                    fill(k0, k1, s, n, view[::-1] if reverse else view)

    def own_streams(
        self, z: np.ndarray, v: np.ndarray | None, start: np.ndarray, reverse: bool
    ) -> None:
        """The ticker's own draws: E into ``z`` (z.shape[1] - K + k per row), V into ``v``
        (unless None: stochastic volatility takes its volume noise from the factor shocks)."""
        seeds = self.seed.tolist()
        extra = z.shape[1] - self.K  # rewind needs one more return draw than ticks
        self.fill(
            z, seeds, [noise.idiosyncratic_stream()] * len(seeds), start, self.k + extra, reverse
        )
        if v is not None:
            self.fill(v, seeds, [noise.volume_stream()] * len(seeds), start, self.k, reverse)

    def combine(
        self,
        z: np.ndarray,
        factor_start: np.ndarray,
        reverse: bool,
        col: int = 0,
        anchor_n: np.ndarray | None = None,
    ) -> None:
        """z holds E: make it Z = c*E + a*M + b*S (in this order of operations, always).

        Factor draws fill columns col .. col+k-1 from ``factor_start`` (reversed if asked) and,
        if ``anchor_n`` is given, column 0 from the draw at ``anchor_n``.
        """
        a_m, a_s, c_e = self.market.factor_loadings
        z *= c_e
        ivs, sectors = self.iv.tolist(), self.sector.tolist()
        mseeds = [self.market.market_seed] * len(ivs)
        f = None
        for weight, streams in (
            (a_m, [noise.market_stream(iv) for iv in ivs]),
            (a_s, [noise.sector_stream(iv, s) for iv, s in zip(ivs, sectors)]),
        ):
            if weight == 0.0:
                continue  # adding 0*F is adding +-0.0: skipping it is bit-identical
            f = self.alloc(z.shape[1]) if f is None else f
            self.fill(f, mseeds, streams, factor_start, self.k, reverse, col)
            if anchor_n is not None:
                self.fill(f, mseeds, streams, anchor_n, np.ones_like(self.k), False)
            f *= weight
            z += f

    def quotes(self, y: np.ndarray, z: np.ndarray, v: np.ndarray):
        half, scale = self.half[:, None], None
        if self.ext is not None:  # spread and volume from the volatility at each tick, jumps
            half = self.ext.half_spreads(self.market.spread_bps)
            scale = self.ext.volume_scale()
        if self.clock is not None:  # sessions: volume follows the profile, pre/post spreads
            level = self.level
            scale = level if scale is None else scale * level
            half = half * self.clock.spread_factors(self.extended_hours)
        return fill_quotes(
            y,
            z,
            v,
            self.lo_c[:, None],
            self.hi_c[:, None],
            half,
            self.market.base_volume,
            scale,
        )


def _forward(grp: _Group) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, ...]]:
    K, k, iv = grp.K, grp.k, grp.iv
    rows = np.arange(len(grp.g))
    first_n = grp.t0 // iv + 1
    if grp.overlay is not None:  # --- events: after a halt the grid goes on past it
        first_n = grp.overlay.first_n(first_n)
    first_t = first_n * iv
    seq1 = grp.seq0 + 1
    ext = grp.ext
    stochastic = ext is not None and ext.stochastic
    z, v = grp.alloc(K), None if stochastic else grp.alloc(K)
    grp.own_streams(z, v, seq1, False)
    if ext is not None:  # the volatility path, and the leverage mixed into E
        vol_noise = ext.forward_factors(z, seq1, iv, first_t - grp.t0)
        v = vol_noise if stochastic else v
    grp.combine(z, first_n, False)
    if grp.overlay is not None or grp.clock is not None:  # --- step (S, T] of each column
        ends = first_t[:, None] + iv[:, None] * np.arange(K, dtype=np.int64)
        starts = ends - iv[:, None]
        starts[:, 0] = grp.t0
    if grp.overlay is not None:  # --- events
        grp.overlay.scale_noise(z, starts, ends)
    dt = None if grp.clock is None else grp.business_dt(ends, False)  # --- sessions

    if ext is None and dt is None:
        a, b = grp.coefficients(iv)
        a0, b0 = grp.coefficients(first_t - grp.t0)  # real gap: differs after an interval change
        x = z * b[:, None]
        x += a[:, None]
        x[:, 0] = z[:, 0] * b0 + a0
    elif ext is None:
        x = grp.session_increments(z, dt)
    else:
        x = ext.increments(z, seq1, iv, first_t - grp.t0, False, dt)
    if grp.overlay is not None:
        grp.overlay.add_drift(x, starts, ends)
    x[:, 0] += grp.x0  # seeding the cumulative sum: x0 + inc_1, then + inc_2, ...
    np.cumsum(x, axis=1, out=x)
    x_last = x[rows, k - 1].copy()
    reflect_inplace(x, grp.log_lo, grp.log_hi)
    steps = np.arange(K, dtype=np.int64)
    time = first_t[:, None] + iv[:, None] * steps
    price, bid, ask, volume = grp.quotes(x, z, v)

    seq = seq1[:, None] + steps
    if grp.ragged:
        mask = steps < k[:, None]
        pick = lambda arr: arr[mask]  # noqa: E731
    else:
        pick = lambda arr: arr.reshape(-1)  # noqa: E731
    out = {
        "seq": pick(seq),
        "time_ms": pick(time),
        "price_cents": pick(price),
        "bid_cents": pick(bid),
        "ask_cents": pick(ask),
        "volume": pick(volume),
        "log_price": pick(x),
    }
    vol = None if ext is None else ext.vol_last
    new_state = (grp.seq0 + k, first_t + (k - 1) * iv, x_last, vol)
    return out, new_state


def _backward(grp: _Group) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, ...]]:
    # Column j of the noise is the increment INTO seq s0 - j (j = 0 .. K): the first one moves
    # the anchor's predecessor to the anchor; ticks are columns 1..K of it (their volume uses the
    # increment into them, as forward). Computed newest first, returned oldest first.
    K, k, iv = grp.K, grp.k, grp.iv
    rows = np.arange(len(grp.g))
    prev_n = (grp.t0 - 1) // iv  # latest grid point strictly before the anchor
    if grp.overlay is not None:  # --- events: before a halt the grid goes on before it
        prev_n = grp.overlay.prev_n(prev_n)
    prev_t = prev_n * iv
    ext = grp.ext
    stochastic = ext is not None and ext.stochastic
    z, v = grp.alloc(K + 1), None if stochastic else grp.alloc(K)
    grp.own_streams(z, v, grp.seq0 - k, True)  # E: seqs s0 .. s0-k; V: s0-1 .. s0-k
    if ext is not None:  # the volatility path backwards, and the leverage mixed into E
        vol_noise = ext.backward_factors(z, grp.seq0 - k, iv, grp.t0 - prev_t)
        v = vol_noise if stochastic else v
    # factors: column 0 at the anchor's grid index, columns 1..k at prev_n, prev_n - 1, ...
    grp.combine(z, prev_n - k + 1, True, col=1, anchor_n=grp.t0 // iv)
    if grp.overlay is not None or grp.clock is not None:  # --- column c: step into T_c from S_c
        starts = prev_t[:, None] - iv[:, None] * np.arange(K + 1, dtype=np.int64)
        ends = starts + iv[:, None]
        ends[:, 0] = grp.t0
    if grp.overlay is not None:  # --- events
        grp.overlay.scale_noise(z, starts, ends)
    dt = None if grp.clock is None else grp.business_dt(starts[:, :K], True)  # --- sessions

    if ext is None and dt is None:
        a, b = grp.coefficients(iv)
        a0, b0 = grp.coefficients(grp.t0 - prev_t)
        x = z[:, :K] * b[:, None]
        x += a[:, None]
        x[:, 0] = z[:, 0] * b0 + a0
    elif ext is None:
        x = grp.session_increments(z[:, :K], dt)
    else:
        x = ext.increments(z[:, :K], grp.seq0, iv, grp.t0 - prev_t, True, dt)
    if grp.overlay is not None:
        grp.overlay.add_drift(x, starts[:, :K], ends[:, :K])
    np.negative(x, out=x)
    x[:, 0] += grp.x0  # seeded: x0 + (-inc_0) == x0 - inc_0
    np.cumsum(x, axis=1, out=x)
    x_last = x[rows, k - 1].copy()
    reflect_inplace(x, grp.log_lo, grp.log_hi)
    steps = np.arange(K, dtype=np.int64)
    time = prev_t[:, None] - iv[:, None] * steps
    price, bid, ask, volume = grp.quotes(x, z[:, 1:], v)

    seq = (grp.seq0 - 1)[:, None] - steps
    if grp.ragged:
        mask = steps[::-1] < k[:, None]  # right-aligned after reversing the columns
        pick = lambda arr: arr[:, ::-1][mask]  # noqa: E731
    else:
        pick = lambda arr: arr[:, ::-1].reshape(-1)  # noqa: E731
    out = {
        "seq": pick(seq),
        "time_ms": pick(time),
        "price_cents": pick(price),
        "bid_cents": pick(bid),
        "ask_cents": pick(ask),
        "volume": pick(volume),
        "log_price": pick(x),
    }
    vol = None if ext is None else ext.vol_last
    new_state = (grp.seq0 - k, prev_t - (k - 1) * iv, x_last, vol)
    return out, new_state


# --------------------------------------------------------------------------------------------------
# public entry points


def _run(
    step_fn,
    params: TickerParams,
    state: EngineState,
    steps: Any,
    market: MarketConfig,
    overlay=None,
    sessions=None,
) -> tuple[TickBatch, EngineState]:
    _check(params, state, market)
    n = len(params)
    k = _steps_array(steps, n)
    new_state = state.copy()
    active = np.flatnonzero(k > 0)
    if len(active) == 0:
        return TickBatch.empty(), new_state
    # groups of similar step counts: floor(log2 k) equal => padding wastes < 50%; tickers with
    # stochastic volatility or jumps in groups of their own (plain GBM keeps its own code path),
    # and calendar tickers (trading sessions) in groups of their own too (24/7 ones keep theirs)
    kind_of = np.where(params.vol_model == 1, 2, np.where(params.jump_rate > 0, 1, 0))
    clock = None
    if sessions is not None and not sessions.is_empty():
        clock = market.session_clock(sessions)
        kind_of = kind_of + 3 * sessions.rows_mask(n)
    groups, kinds = [], []
    for kind in range(6):  # plain GBM, with jumps, stochastic volatility; then on a calendar
        members = active[kind_of[active] == kind]
        if len(members) == 0:
            continue
        bucket = np.floor(np.log2(k[members])).astype(np.int64)
        for b in np.unique(bucket):
            g = members[bucket == b]
            # and at most ~GROUP_TICKS ticks per group (whole rows): the dozen (rows, steps)
            # arrays of a group then stay cache-sized, up to 3x faster than one huge rectangle
            rows = max(1, GROUP_TICKS // int(k[g].max()))
            for i in range(0, len(g), rows):
                groups.append(g[i : i + rows])
                kinds.append(kind)
    total = int(k.sum())
    results = [
        step_fn(
            _Group(params, state, k, g, market, kind % 3 > 0, overlay, clock if kind >= 3 else None)
        )
        for g, kind in zip(groups, kinds)
    ]
    offsets = np.concatenate(([0], np.cumsum(k)))
    batch: dict[str, np.ndarray] | None = None
    for g, (out, (seq, time_ms, log_price, vol)) in zip(groups, results):
        new_state.seq[g], new_state.time_ms[g], new_state.log_price[g] = seq, time_ms, log_price
        if vol is not None:
            new_state.vol[g] = vol
        if len(groups) == 1:
            batch = out
            break
        if batch is None:
            batch = {name: np.empty(total, dtype=arr.dtype) for name, arr in out.items()}
        kg = k[g]
        lo, hi = int(offsets[g[0]]), int(offsets[g[-1] + 1])
        if hi - lo == int(kg.sum()):  # the group's ticks are one contiguous run of the batch
            dest: Any = slice(lo, hi)
        else:
            local_start = np.cumsum(kg) - kg
            dest = np.repeat(offsets[g] - local_start, kg) + np.arange(int(kg.sum()))
        for name, arr in out.items():
            batch[name][dest] = arr
    ticker_index = np.repeat(np.arange(n, dtype=np.int32), k)
    return TickBatch(ticker_index=ticker_index, **batch), new_state


def advance(
    params: TickerParams, state: EngineState, steps: Any, market: MarketConfig
) -> tuple[TickBatch, EngineState]:
    """Generate the next ``steps`` ticks of every ticker (an int, or one int per ticker; 0 allowed).

    Tick j (1-based) of ticker i is at the j-th grid point after ``state.time_ms[i]`` on its
    CURRENT interval grid, with seq = state.seq[i] + j; the first step's dt is the real gap (after
    an interval change it differs from the interval). Returns the ticks and the state at the last
    one (unchanged for tickers with 0 steps); the input state is not modified.
    """
    return _run(_forward, params, state, steps, market)


def rewind(
    params: TickerParams, state: EngineState, steps: Any, market: MarketConfig
) -> tuple[TickBatch, EngineState]:
    """Generate ``steps`` ticks of history BEFORE ``state`` (the earliest tick or a virtual anchor).

    Ticks seq - 1, seq - 2, ... at the grid points before ``state.time_ms`` (time_ms - iv,
    time_ms - 2 iv, ... when the anchor is on the grid), from x_{s-1} = x_s - inc_s with inc_s
    exactly the forward increment into seq s. The batch is in ascending time per ticker; the
    returned state is the new earliest tick.
    """
    return _run(_backward, params, state, steps, market)
