"""Scenario events on top of the price path: moves, gaps, volatility spikes and halts.

Pure NumPy. An event's effect is a function of the ticker and of the times of a step (the
step from tick s-1 at time S to tick s at time T), never of how a request is split, so the
ticks with events are as reproducible as without (catch-up, regeneration after a lost state,
backfill):

``MOVE`` (fraction X over ``[start, end]``)
    A drift overlay: the log price gets f(T) - f(S) added to the increment of each step, with
    f(t) = log(1 + X) * clip((t - start) / (end - start), 0, 1). Over the window's grid steps
    that is log(1 + X) spread linearly (exactly 1/m of it per step of an m-step window); it
    telescopes, so after the window the path is shifted by log(1 + X) whatever the steps were.
    The noise is unchanged.
``GAP`` (fraction X at ``start``)
    One instantaneous log jump log(1 + X) in the step with S < start <= T: the first tick at or
    after ``start``.
``VOLATILITY`` (factor k over ``[start, end]``)
    The diffusion term is multiplied by k: the step's combined noise Z (the same draws) is
    scaled by sqrt(1 + (k² - 1) * w), w the fraction of the step inside the window (1 for grid
    steps inside it). The drift term is unchanged (so is the median path); the volume, which
    follows |Z|, rises with it.
``HALT`` (``[start, end)``)
    No grid point t with start <= t < end is generated: the first tick after the halt is the
    first grid point at or after ``end``, with the next seq, and its step spans the halt (dt
    the real gap, as after any pause). Backwards, the tick before a halt is the last grid point
    before ``start``.

``advance``/``rewind``/``steps_due``/``steps_back`` here take an ``EventSchedule`` and are the
engine's with these effects; they also take a ``SessionSchedule`` (trading sessions, see
``sessions`` and the package docstring): a calendar ticker's closures are windows without
ticks like halts (merged with its halts), and its steps run on the business clock. Without
events and sessions (``None`` or empty schedules) they ARE the engine's (same call, bit for
bit); tickers without events in a call also take the engine's exact path (the overlay only
touches the groups that have some), and 24/7 tickers never meet session code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import gbm
from .params import EngineState, MarketConfig, TickerParams
from .quotes import TickBatch
from .sessions import FAR, SessionSchedule, blocked_points, merge_windows, next_point, prev_point

__all__ = [
    "GAP",
    "HALT",
    "KINDS",
    "MOVE",
    "VOLATILITY",
    "EventSchedule",
    "advance",
    "rewind",
    "steps_back",
    "steps_due",
]

MOVE, GAP, VOLATILITY, HALT = 0, 1, 2, 3
KINDS = ("move", "gap", "volatility", "halt")


@dataclass(frozen=True, eq=False)
class EventSchedule:
    """Effects on tickers, as parallel arrays of length E: ``row`` (the ticker's index in the
    ``TickerParams`` they go with), ``kind`` (``MOVE``, ``GAP``, ``VOLATILITY``, ``HALT``),
    ``start_ms``, ``end_ms`` (epoch ms; a gap's end is its start) and ``value`` (the fraction X
    of a move or gap, -1 < X; the factor k > 0 of a volatility event; unused for a halt)."""

    row: np.ndarray
    kind: np.ndarray
    start_ms: np.ndarray
    end_ms: np.ndarray
    value: np.ndarray

    def __post_init__(self) -> None:
        for name, dtype in (
            ("row", np.int64),
            ("kind", np.int8),
            ("start_ms", np.int64),
            ("end_ms", np.int64),
            ("value", np.float64),
        ):
            arr = np.array(getattr(self, name), dtype=dtype).reshape(-1)
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        n = len(self.row)
        if any(len(getattr(self, f)) != n for f in ("kind", "start_ms", "end_ms", "value")):
            raise ValueError("EventSchedule arrays must have the same length")
        if np.any((self.kind < 0) | (self.kind > HALT)):
            raise ValueError(f"kind must be one of 0..{HALT} ({', '.join(KINDS)})")
        if np.any(self.end_ms < self.start_ms):
            raise ValueError("an event cannot end before it starts")
        windowed = self.kind != GAP
        if np.any(windowed & (self.end_ms == self.start_ms)):
            raise ValueError("moves, volatility events and halts need a duration")
        sized = (self.kind == MOVE) | (self.kind == GAP)
        if np.any(sized & ~(np.isfinite(self.value) & (self.value > -1))):
            raise ValueError("a move or gap must be a finite fraction above -1")
        vol = self.kind == VOLATILITY
        if np.any(vol & ~(np.isfinite(self.value) & (self.value > 0))):
            raise ValueError("a volatility factor must be finite and > 0")

    @classmethod
    def empty(cls) -> EventSchedule:
        return cls([], [], [], [], [])

    @classmethod
    def from_effects(cls, effects: Iterable[tuple[int, int, int, int, float]]) -> EventSchedule:
        """From ``(row, kind, start_ms, end_ms, value)`` tuples."""
        rows = list(effects)
        cols = list(zip(*rows)) if rows else [[], [], [], [], []]
        return cls(*cols)

    def __len__(self) -> int:
        return len(self.row)

    def take(self, index: Any, n: int) -> EventSchedule:
        """The schedule of a subset of the ``n`` tickers (``params.take(index)``'s rows)."""
        picked = np.arange(n)[index]
        new_row = np.full(n, -1, dtype=np.int64)
        new_row[picked] = np.arange(len(picked))
        keep = new_row[self.row] >= 0 if len(self) else np.zeros(0, dtype=bool)
        return EventSchedule(
            new_row[self.row[keep]],
            self.kind[keep],
            self.start_ms[keep],
            self.end_ms[keep],
            self.value[keep],
        )

    def halts(self, row: int) -> list[tuple[int, int]]:
        """The ticker's halt windows ``[start, end)``, sorted, overlapping ones merged."""
        pick = (self.row == row) & (self.kind == HALT)
        merged: list[list[int]] = []
        for s, e in sorted(zip(self.start_ms[pick].tolist(), self.end_ms[pick].tolist())):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        return [(s, e) for s, e in merged]


def _empty(events: EventSchedule | None) -> bool:
    return events is None or len(events) == 0


# --------------------------------------------------------------------------------------------------
# the overlay a group of the stepper applies (``gbm._Group.overlay``)


class Overlay:
    """Moves, gaps and volatility of one call, and where each ticker's next tick is (halts)."""

    def __init__(self, events: EventSchedule, grid_n: np.ndarray | None) -> None:
        self.events = events
        self.grid_n = grid_n  # per ticker: its next grid index (forward) / previous (backward)

    def bind(self, g: np.ndarray) -> _Bound | None:
        """The overlay of a group of tickers ``g`` (None when no event touches them)."""
        pos = np.full(int(max(g.max(), self.events.row.max(initial=-1))) + 1, -1, np.int64)
        pos[g] = np.arange(len(g))
        ev = self.events
        local = pos[ev.row] if len(ev) else np.zeros(0, dtype=np.int64)
        pick = (local >= 0) & (ev.kind != HALT)
        grid = None if self.grid_n is None else self.grid_n[g]
        if not pick.any() and grid is None:
            return None
        return _Bound(
            local[pick],
            ev.kind[pick],
            ev.start_ms[pick],
            ev.end_ms[pick],
            ev.value[pick],
            grid,
        )


class _Bound:
    def __init__(self, rows, kinds, starts, ends, values, grid_n) -> None:
        self.effects = list(
            zip(rows.tolist(), kinds.tolist(), starts.tolist(), ends.tolist(), values.tolist())
        )
        self.grid_n = grid_n

    def first_n(self, first_n: np.ndarray) -> np.ndarray:
        """Forward: the grid index of each ticker's next tick (after a halt: past it)."""
        return first_n if self.grid_n is None else np.maximum(first_n, self.grid_n)

    def prev_n(self, prev_n: np.ndarray) -> np.ndarray:
        """Backward: the grid index of the tick before the anchor (before a halt: before it)."""
        return prev_n if self.grid_n is None else np.minimum(prev_n, self.grid_n)

    def scale_noise(self, z: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        """Volatility events: Z of each step (S, T] times sqrt(1 + (k² - 1) * inside)."""
        for r, kind, s, e, k in self.effects:
            if kind != VOLATILITY:
                continue
            cols = _overlapping(starts[r], ends[r], s, e)
            if cols is None:
                continue
            lo, hi = starts[r, cols], ends[r, cols]
            inside = (np.minimum(hi, e) - np.maximum(lo, s)) / (hi - lo)
            z[r, cols] *= np.sqrt(1.0 + (k * k - 1.0) * inside)

    def add_drift(self, x: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        """Moves and gaps: their share of each step (S, T] added to its increment."""
        for r, kind, s, e, frac in self.effects:
            if kind == MOVE:
                cols = _overlapping(starts[r], ends[r], s, e)
                if cols is None:
                    continue
                size, width = np.log1p(frac), float(e - s)
                after = np.clip((ends[r, cols] - s) / width, 0.0, 1.0)
                before = np.clip((starts[r, cols] - s) / width, 0.0, 1.0)
                x[r, cols] += size * (after - before)
            elif kind == GAP:
                cols = np.flatnonzero((starts[r] < s) & (s <= ends[r]))
                if len(cols):
                    x[r, cols] += np.log1p(frac)


def _overlapping(lo: np.ndarray, hi: np.ndarray, s: int, e: int) -> np.ndarray | None:
    cols = np.flatnonzero((lo < e) & (hi > s) & (hi > lo))
    return cols if len(cols) else None


# --------------------------------------------------------------------------------------------------
# halts (and the closures of trading sessions): where the grid goes on


def _empty_sessions(sessions: SessionSchedule | None) -> bool:
    return sessions is None or sessions.is_empty()


class _Blocked:
    """Per ticker, the windows without ticks: its halts and, on a calendar, the closures
    between its open periods (``sessions``), merged; rows with none are absent."""

    def __init__(self, events: EventSchedule | None, sessions: SessionSchedule | None) -> None:
        halted = [] if _empty(events) else np.unique(events.row[events.kind == HALT]).tolist()
        closed = [] if _empty_sessions(sessions) else sessions.calendar_rows.tolist()
        self.windows: dict[int, list[tuple[int, int]]] = {}
        self.starts: dict[int, list[int]] = {}
        self.ends: dict[int, list[int]] = {}
        for r in closed:
            self.windows[r], self.starts[r], self.ends[r] = sessions.closed_windows(r)
        for r in halted:
            halts = events.halts(r)
            merged = merge_windows(self.windows[r], halts) if r in self.windows else halts
            self.windows[r] = merged
            self.starts[r] = [s for s, _ in merged]
            self.ends[r] = [e for _, e in merged]

    def __bool__(self) -> bool:
        return bool(self.windows)

    def points(self, r: int, lo: int, hi: int, iv: int) -> int:
        """Grid points t with lo <= t <= hi that lie in the row's windows."""
        return blocked_points(self.windows[r], self.ends[r], lo, hi, iv)

    def next_point(self, r: int, t: int, iv: int) -> tuple[int, int]:
        return next_point(t, iv, self.windows[r], self.ends[r])

    def prev_point(self, r: int, t: int, iv: int) -> tuple[int, int]:
        return prev_point(t, iv, self.windows[r], self.starts[r])

    def check_room(self, r: int, t: int, iv: int, steps: int, backward: bool) -> None:
        """A ``ValueError`` when the row's grid points up to the end of its last open period
        (backwards: from the start of its first one) are fewer than ``steps``: the periods
        given end (begin) too soon. (Closures in between are found on the way, see
        ``_segmented``; this catches a request far beyond the periods before any work.)"""
        windows = self.windows[r]
        if backward:
            edge = windows[0][1] if windows[0][0] <= -FAR // 2 else None
            room = None if edge is None else max(0, (t - 1) // iv - (edge - 1) // iv)
        else:
            edge = windows[-1][0] if windows[-1][1] >= FAR // 2 else None
            room = None if edge is None else max(0, (edge - 1) // iv - t // iv)
        if room is not None and steps > room:
            _out_of_periods(r, t, steps, backward)


def _out_of_periods(r: int, t: int, steps: int, backward: bool):
    raise ValueError(
        f"ticker {r}: its session schedule has fewer than {steps} open grid points "
        f"{'before' if backward else 'after'} {t} (give periods covering the whole range)"
    )


def steps_due(
    state: EngineState,
    params: TickerParams,
    now_ms: Any,
    events: EventSchedule | None,
    sessions: SessionSchedule | None = None,
) -> np.ndarray:
    """``engine.steps_due`` without the grid points inside halts or, for a ticker on a calendar,
    outside its open periods: the ticks a catch-up to ``now_ms`` makes."""
    due = gbm.steps_due(state, params, now_ms)
    if _empty(events) and _empty_sessions(sessions):
        return due
    now = np.broadcast_to(np.asarray(now_ms, dtype=np.int64), due.shape)
    due = due.copy()
    blocked = _Blocked(events, sessions)
    for r in blocked.windows:
        if r < len(due) and due[r] > 0:
            iv, t0 = int(params.interval_ms[r]), int(state.time_ms[r])
            due[r] -= blocked.points(r, t0 + 1, int(now[r]), iv)
    return np.maximum(due, 0)


def steps_back(
    state: EngineState,
    params: TickerParams,
    start_ms: int,
    steps: Any,
    events: EventSchedule | None,
    sessions: SessionSchedule | None = None,
) -> np.ndarray:
    """``steps`` (grid points from ``start_ms`` up to each anchor) without those inside halts or
    closures: the ticks a rewind to ``start_ms`` makes."""
    k = np.array(steps, dtype=np.int64)
    if _empty(events) and _empty_sessions(sessions):
        return k
    blocked = _Blocked(events, sessions)
    for r in blocked.windows:
        if r < len(k) and k[r] > 0:
            iv, anchor = int(params.interval_ms[r]), int(state.time_ms[r])
            k[r] -= blocked.points(r, start_ms, anchor - 1, iv)
    return np.maximum(k, 0)


def _merge(batches: list[TickBatch]) -> TickBatch:
    """Batches of consecutive calls as one, grouped by ticker, ascending within one."""
    batches = [b for b in batches if len(b)]
    if not batches:
        return TickBatch.empty()
    if len(batches) == 1:
        return batches[0]
    index = np.concatenate([b.ticker_index for b in batches])
    order = np.argsort(index, kind="stable")
    names = ("seq", "time_ms", "price_cents", "bid_cents", "ask_cents", "volume", "log_price")
    return TickBatch(
        ticker_index=index[order],
        **{name: np.concatenate([getattr(b, name) for b in batches])[order] for name in names},
    )


def _segmented(step_fn, params, state, steps, market, events, sessions, backward: bool):
    k = gbm._steps_array(steps, len(params))
    events = EventSchedule.empty() if events is None else events
    sessions = None if _empty_sessions(sessions) else sessions
    blocked = _Blocked(events, sessions)
    iv = params.interval_ms.tolist()
    for r in blocked.windows:
        if r < len(k) and k[r] > 0:
            blocked.check_room(r, int(state.time_ms[r]), iv[r], int(k[r]), backward)
    remaining, cur, batches = k.copy(), state, []
    while True:
        grid_n = None
        seg = remaining
        if blocked:
            grid = (cur.time_ms - 1) // params.interval_ms if backward else None
            grid = cur.time_ms // params.interval_ms + 1 if grid is None else grid
            seg = remaining.copy()
            for r in blocked.windows:
                if r >= len(remaining) or remaining[r] == 0:
                    continue
                t = int(cur.time_ms[r])
                find = blocked.prev_point if backward else blocked.next_point
                point, room = find(r, t, iv[r])
                if abs(point) >= FAR // 2:  # beyond the periods given
                    _out_of_periods(r, t, int(remaining[r]), backward)
                grid[r] = point // iv[r]
                seg[r] = min(int(remaining[r]), room)
            grid_n = grid
        batch, cur = gbm._run(step_fn, params, cur, seg, market, Overlay(events, grid_n), sessions)
        batches.append(batch)
        remaining = remaining - seg
        if not remaining.any():  # (backwards, each call is older than the one before)
            return _merge(batches[::-1] if backward else batches), cur


def advance(
    params: TickerParams,
    state: EngineState,
    steps: Any,
    market: MarketConfig,
    events: EventSchedule | None = None,
    sessions: SessionSchedule | None = None,
) -> tuple[TickBatch, EngineState]:
    """``engine.advance`` with the events and trading sessions: ``steps`` ticks per ticker on
    its grid outside the halts and, on a calendar, inside its open periods (``steps_due`` here
    counts them), calendar tickers on the business clock."""
    if _empty(events) and _empty_sessions(sessions):
        return gbm.advance(params, state, steps, market)
    return _segmented(gbm._forward, params, state, steps, market, events, sessions, False)


def rewind(
    params: TickerParams,
    state: EngineState,
    steps: Any,
    market: MarketConfig,
    events: EventSchedule | None = None,
    sessions: SessionSchedule | None = None,
) -> tuple[TickBatch, EngineState]:
    """``engine.rewind`` with the events and trading sessions: history before the anchor,
    outside the halts and closures, with each step's increment the forward one (moves and gaps
    undone going back)."""
    if _empty(events) and _empty_sessions(sessions):
        return gbm.rewind(params, state, steps, market)
    return _segmented(gbm._backward, params, state, steps, market, events, sessions, True)
