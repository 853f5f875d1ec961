"""Trading sessions: when a calendar ticker trades, and its business (variance) clock.

Pure NumPy. A ``SessionSchedule`` lists the open periods of the tickers that follow an exchange
calendar; every other ticker trades 24/7 and never goes through this module. The model (the
grid, the business clock, the overnight gap, the intraday profile) is in the package docstring,
"Sessions"; this module holds the schedule, the clock's arithmetic and the profile's constants.

The business clock of a calendar ticker, B(t) in years: each session contributes 1/252 of a
year; a share q (``MarketConfig.overnight_share``) of it is one jump at the session's first open,
the rest accrues over the session's open periods following the intraday profile w, normalized
so that it integrates to 1 over the session's open time. A step from time S to time T has
``dt = (B(T) - B(S)) * time_scale``. B is evaluated piecewise (sessions counted, then a
position inside a session in [0, 1]), so a step's dt is a function of (S, T) alone, computed
the same way whatever the batch, forwards and backwards.

Profile (``MarketConfig`` fields, defaults below): in regular periods
``w(tau) = (1 + A (exp(-tau/h) + exp(-(1 - tau)/h))) / c``, tau the position in the session's
REGULAR time (a lunch break excluded) and c = 1 + 2 A h (1 - exp(-1/h)) so that w averages 1
over regular time; in pre- and post-market periods w is the constant ``extended_activity``.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_EXTENDED_ACTIVITY",
    "DEFAULT_INTRADAY_AMPLITUDE",
    "DEFAULT_INTRADAY_WIDTH",
    "DEFAULT_OVERNIGHT_SHARE",
    "POST",
    "PRE",
    "REGULAR",
    "SESSIONS_PER_YEAR",
    "SESSION_YEAR_MS",
    "SessionClock",
    "SessionSchedule",
]

REGULAR, PRE, POST = 0, 1, 2

#: A calendar ticker's year: ``volatility`` and ``drift`` are annual over 252 sessions.
SESSIONS_PER_YEAR = 252
#: The jump clock of a calendar ticker: jumps stay per tick (per seq), ``jump_rate`` counts them
#: per year of 252 sessions of 6.5 regular hours of ticks (NYSE's regular day).
SESSION_YEAR_MS = SESSIONS_PER_YEAR * 23_400_000
#: Share of a session's variance carried by the overnight gap (``MARKET_OVERNIGHT_SHARE``).
DEFAULT_OVERNIGHT_SHARE = 0.2
#: U-shape of the regular session: amplitude A and width h (a fraction of the regular session).
#: With these the first and last 30 minutes of a 6.5-hour day carry about 2.3x the volume and
#: variance of 12:00-14:00 New York time, a typical US equity profile.
DEFAULT_INTRADAY_AMPLITUDE = 2.0
DEFAULT_INTRADAY_WIDTH = 0.1
#: Activity in pre- and post-market periods, relative to the regular session's average.
DEFAULT_EXTENDED_ACTIVITY = 0.2

#: Composite search key ``row * _SPAN + time_ms``: times from 1970 to 2109, up to 2**20 rows.
_SPAN = 1 << 42
_MAX_ROWS = 1 << 20
FAR = np.iinfo(np.int64).max // 4  # "never" (as the halts' code uses it)


def _array(value: Any, dtype) -> np.ndarray:
    return np.array(value, dtype=dtype).reshape(-1)


@dataclass(frozen=True, eq=False)
class SessionSchedule:
    """Open periods of calendar tickers, as parallel arrays of length P: ``row`` (the ticker's
    index in the ``TickerParams`` they go with), ``start_ms``, ``end_ms`` (the period is
    ``[start, end)``, epoch ms), ``session`` (the trading day's number: the periods of one
    session share it, e.g. days since 1970 as ``ticks.calendars.period_arrays`` gives) and
    ``kind`` (``REGULAR``, ``PRE``, ``POST``; a lunch break is two regular periods of one
    session). Sorted here by (row, start); a row's periods must not overlap.

    A row in the schedule is closed outside its periods, also before its first and after its
    last one: give periods covering the range you ask about, and each session whole (its
    normalization and its open need all its periods), i.e. a margin of a few days on each side.
    ``calendar_rows`` (default: the rows that have periods) may add rows without any period in
    the range: closed throughout. Rows not in it are 24/7 and take the engine's plain path.
    """

    row: np.ndarray
    start_ms: np.ndarray
    end_ms: np.ndarray
    session: np.ndarray
    kind: np.ndarray
    calendar_rows: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        row = _array(self.row, np.int64)
        start, end = _array(self.start_ms, np.int64), _array(self.end_ms, np.int64)
        session, kind = _array(self.session, np.int64), _array(self.kind, np.int8)
        n = len(row)
        if any(len(a) != n for a in (start, end, session, kind)):
            raise ValueError("SessionSchedule arrays must have the same length")
        if np.any((row < 0) | (row >= _MAX_ROWS)):
            raise ValueError(f"row must be in [0, {_MAX_ROWS})")
        if np.any(end <= start):
            raise ValueError("a period must end after it starts")
        if np.any((start < 0) | (end > _SPAN)):
            raise ValueError("period times must lie between 1970 and 2109 (epoch ms)")
        if np.any((kind < REGULAR) | (kind > POST)):
            raise ValueError("kind must be 0 (regular), 1 (pre) or 2 (post)")
        ordered = (row[1:] > row[:-1]) | ((row[1:] == row[:-1]) & (start[1:] >= start[:-1]))
        if not ordered.all():  # (a schedule taken for a cycle's tickers usually is)
            order = np.lexsort((start, row))
            row, start, end, session, kind = (a[order] for a in (row, start, end, session, kind))
        same = row[1:] == row[:-1]
        if np.any(same & (start[1:] < end[:-1])):
            raise ValueError("the periods of a row must not overlap")
        if np.any(same & (session[1:] < session[:-1])):
            raise ValueError("sessions must follow each other in time")
        rows = np.unique(row)
        if self.calendar_rows is not None:
            rows = np.union1d(rows, _array(self.calendar_rows, np.int64))
        for name, arr in (
            ("row", row),
            ("start_ms", start),
            ("end_ms", end),
            ("session", session),
            ("kind", kind),
            ("calendar_rows", rows),
        ):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    @classmethod
    def empty(cls) -> SessionSchedule:
        return cls([], [], [], [], [])

    def __len__(self) -> int:
        return len(self.row)

    def is_empty(self) -> bool:
        """No calendar row at all (every ticker 24/7)."""
        return len(self.calendar_rows) == 0

    def has_row(self, row: int) -> bool:
        """Whether ticker ``row`` is on a calendar."""
        rows = self._cache.get("row_set")
        if rows is None:
            rows = self._cache["row_set"] = frozenset(self.calendar_rows.tolist())
        return row in rows

    def rows_mask(self, n: int) -> np.ndarray:
        """Per ticker of ``n``: on a calendar (bool)."""
        mask = np.zeros(n, dtype=bool)
        rows = self.calendar_rows[self.calendar_rows < n]
        mask[rows] = True
        return mask

    def take(self, index: Any, n: int) -> SessionSchedule:
        """The schedule of a subset of the ``n`` tickers (``params.take(index)``'s rows)."""
        picked = np.arange(n)[index]
        new_row = np.full(max(n, int(self.calendar_rows.max(initial=-1)) + 1), -1, np.int64)
        new_row[picked] = np.arange(len(picked))
        keep = new_row[self.row] >= 0 if len(self) else np.zeros(0, dtype=bool)
        rows = new_row[self.calendar_rows]
        taken = SessionSchedule(
            new_row[self.row[keep]],
            self.start_ms[keep],
            self.end_ms[keep],
            self.session[keep],
            self.kind[keep],
            rows[rows >= 0],
        )
        # the closures are derived once, here, and carried over (a live cycle takes its
        # tickers every beat)
        taken._cache["closures"] = {
            int(new_row[r]): self.closed_windows(r)
            for r in self.calendar_rows.tolist()
            if new_row[r] >= 0
        }
        return taken

    # ----------------------------------------------------------------------------------------
    # where the grid goes on: closures as windows [start, end), like halts

    def closures(self, row: int) -> list[tuple[int, int]]:
        """The row's closed windows ``[start, end)``, sorted, from ``-FAR`` to ``FAR``: before
        its first period, between periods that do not touch, after its last one."""
        return self.closed_windows(row)[0]

    def closed_windows(self, row: int) -> tuple[list, list[int], list[int]]:
        """``(closures, their starts, their ends)`` of the row, derived once."""
        known = self._cache.setdefault("closures", {})
        found = known.get(row)
        if found is not None:
            return found
        lo, hi = np.searchsorted(self.row, [row, row + 1])
        starts, ends = self.start_ms[lo:hi].tolist(), self.end_ms[lo:hi].tolist()
        out, edge = [], -FAR
        for s, e in zip(starts, ends):
            if s > edge:
                out.append((edge, s))
            edge = e
        out.append((edge, FAR))
        found = known[row] = (out, [w[0] for w in out], [w[1] for w in out])
        return found

    def open_points(self, row: int, iv: int, after_ms: int, until_ms: int) -> int:
        """Grid points t (multiples of ``iv``) with after_ms < t <= until_ms in the row's open
        periods (halts aside): how many ticks a catch-up over that span makes."""
        if until_ms <= after_ms:
            return 0
        closed, _, ends = self.closed_windows(row)
        total = until_ms // iv - after_ms // iv
        return total - blocked_points(closed, ends, after_ms + 1, until_ms, iv)

    # ----------------------------------------------------------------------------------------
    # the business clock

    def clock(
        self, overnight_share: float, amplitude: float, width: float, extended: float
    ) -> SessionClock:
        """The business clock of these periods with that profile (built once per profile)."""
        key = ("clock", overnight_share, amplitude, width, extended)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = SessionClock(
                self, overnight_share, amplitude, width, extended
            )
        return found


def merge_windows(*lists: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Windows ``[start, end)`` of several lists as one sorted list, overlapping or touching
    ones merged."""
    merged: list[list[int]] = []
    for s, e in sorted(w for windows in lists for w in windows):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def next_point(t: int, iv: int, windows: list[tuple[int, int]], ends: list[int]) -> tuple[int, int]:
    """The first grid point after ``t`` outside the (sorted, disjoint) ``windows``, and how many
    grid points from it (itself included) come before the next window (``FAR``: none).
    ``ends``: the windows' ends (for the search)."""
    point = (t // iv + 1) * iv
    i = bisect.bisect_right(ends, point)
    while i < len(windows):
        s, e = windows[i]
        if point < s:
            return point, (s - 1) // iv - point // iv + 1
        point = max(point, -(-e // iv) * iv)
        i += 1
    return point, FAR


def prev_point(
    t: int, iv: int, windows: list[tuple[int, int]], starts: list[int]
) -> tuple[int, int]:
    """The last grid point before ``t`` outside the windows, and how many grid points down from
    it (itself included) come after the previous window. ``starts``: the windows' starts."""
    point = (t - 1) // iv * iv
    i = bisect.bisect_right(starts, point) - 1
    while i >= 0:
        s, e = windows[i]
        if point >= e:
            return point, point // iv - (-(-e // iv)) + 1
        point = min(point, (s - 1) // iv * iv)
        i -= 1
    return point, FAR


def blocked_points(windows: list[tuple[int, int]], ends: list[int], lo: int, hi: int, iv: int):
    """Grid points t with lo <= t <= hi that lie inside the windows."""
    count = 0
    i = bisect.bisect_right(ends, lo)
    while i < len(windows):
        s, e = windows[i]
        if s > hi:
            break
        a, b = max(lo, s), min(hi, e - 1)
        if b >= a:
            count += b // iv - (a - 1) // iv
        i += 1
    return count


class SessionClock:
    """The business clock of a ``SessionSchedule`` with one profile: per-period constants, and
    the vectorized arithmetic a group of the stepper uses (``path``)."""

    def __init__(
        self,
        schedule: SessionSchedule,
        overnight_share: float,
        amplitude: float,
        width: float,
        extended: float,
    ) -> None:
        self.q = float(overnight_share)
        self.amp, self.h, self.ext_level = float(amplitude), float(width), float(extended)
        self.c = 1.0 + 2.0 * self.amp * self.h * -math.expm1(-1.0 / self.h)
        self.spread_ext = 1.0 / math.sqrt(self.ext_level)
        row, start, end = schedule.row, schedule.start_ms, schedule.end_ms
        kind = schedule.kind
        self.row, self.start, self.end = row, start, end
        self.key = row * _SPAN + start
        self.regular = kind == REGULAR
        n = len(row)
        new = np.ones(n, dtype=bool)
        if n:
            new[1:] = (row[1:] != row[:-1]) | (schedule.session[1:] != schedule.session[:-1])
        self.ordinal = np.cumsum(new) - 1  # session number, increasing over rows and time
        length = (end - start).astype(np.float64)
        reg_len = np.where(self.regular, length, 0.0)
        ext_len = length - reg_len
        first = np.flatnonzero(new)  # each session's first period
        self.reg_total = np.add.reduceat(reg_len, first)[self.ordinal] if n else reg_len
        self.ext_total = np.add.reduceat(ext_len, first)[self.ordinal] if n else ext_len
        # ms of regular (extended) time of the session before each period (exact: integer ms)
        self.reg_before = self._before(reg_len, first)
        self.ext_before = self._before(ext_len, first)
        self.mass = self.reg_total + self.ext_level * self.ext_total  # the session's w-mass, ms
        self.reg_safe = np.where(self.reg_total > 0, self.reg_total, 1.0)
        # a row's first period, and the session number before it
        self.first_of_row = {}
        if n:
            starts_of_rows = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
            self.first_of_row = dict(zip(row[starts_of_rows].tolist(), starts_of_rows.tolist()))

    def _before(self, lengths: np.ndarray, first: np.ndarray) -> np.ndarray:
        if len(lengths) == 0:
            return lengths
        total = np.cumsum(lengths) - lengths
        return total - total[first][self.ordinal]

    # ----------------------------------------------------------------------------------------

    def _locate(self, rows: np.ndarray, t: np.ndarray):
        """For times ``t`` (n, M) of the tickers ``rows`` (n,): the last period of the row that
        starts at or before t (``p``), and whether there is one (``ok``)."""
        if len(self.key) == 0:
            p = np.zeros(t.shape, dtype=np.int64)
            return p, np.zeros(t.shape, dtype=bool)
        key = np.clip(t, 0, _SPAN - 1)
        key += (rows * _SPAN)[:, None]
        p = np.searchsorted(self.key, key, side="right")
        p -= 1
        ok = p >= 0
        np.maximum(p, 0, out=p)
        ok &= self.row[p] == rows[:, None]
        return p, ok

    def _points(self, rows: np.ndarray, times: np.ndarray) -> _Points:
        """Where each time (n, M) is in its session: the period, the session's number, the
        regular and extended ms of the session before it, and the U's two exponentials."""
        p, ok = self._locate(rows, times)
        start = self.start[p]
        into = np.minimum(np.maximum(times, start), self.end[p])
        into -= start
        into = into.astype(np.float64)
        regular = self.regular[p]
        reg_ms = self.reg_before[p] + np.where(regular, into, 0.0)
        ext_ms = self.ext_before[p] + np.where(regular, 0.0, into)
        before = np.array([self.ordinal[self.first_of_row.get(r, 0)] - 1 for r in rows.tolist()])
        ordinal = np.where(ok, self.ordinal[p], before[:, None])
        tau = reg_ms / self.reg_safe[p]
        e1 = np.exp(-tau / self.h)  # the U's opening part at tau
        e2 = np.exp((tau - 1.0) / self.h)  # its closing part
        return _Points(p, ok, ordinal, reg_ms, ext_ms, tau, e1, e2, ~regular & ok)

    def _accrued(self, p, ok, reg_a, ext_a, reg_b, ext_b, e1_a, e2_b) -> np.ndarray:
        """The share of the session's w-mass between two points a <= b of the session of period
        p: G(tau_b) - G(tau_a) for the regular part (G the integral of the unnormalized U,
        written without cancellation: d + A h (1 - e^(-d/h)) (e^(-tau_a/h) + e^(-(1-tau_b)/h)),
        d = tau_b - tau_a), plus the extended time's constant level; 0 where not ``ok``."""
        reg_total = self.reg_total[p]
        d = reg_b - reg_a
        d /= self.reg_safe[p]
        if self.amp:
            g = -np.expm1(-d / self.h)
            g *= e1_a + e2_b
            g *= self.amp * self.h
            g += d
        else:
            g = d
        g *= reg_total / self.c
        g += self.ext_level * (ext_b - ext_a)
        g /= self.mass[p]
        return np.where(ok, g, 0.0)

    def path(self, rows: np.ndarray, points: np.ndarray, backward: bool = False):
        """The steps between consecutive ``points`` (n, K+1) of the tickers ``rows``: forward,
        the step into column j+1 from column j; ``backward``, the step into column j from j+1.
        Returns ``(dt, level, extended)``: each step's B(T) - B(S) in years (n, K), and at the
        ticks (columns 1..K) the profile's level (1 on average over regular time,
        ``extended_activity`` in pre/post periods) and whether they are in a pre/post period."""
        at = self._points(rows, points)
        older, newer = (
            (slice(1, None), slice(None, -1)) if backward else (slice(None, -1), slice(1, None))
        )
        a, b = at.select(older), at.select(newer)
        q = self.q
        sessions = self._accrued(b.p, b.ok, a.reg, a.ext, b.reg, b.ext, a.e1, b.e2)
        sessions *= 1.0 - q
        cross = np.flatnonzero(a.ordinal != b.ordinal)
        if len(cross):  # the rest of S's session, the sessions between, T's open and start
            a, b = a.flat(cross), b.flat(cross)
            ones = np.ones(len(cross))
            rest = self._accrued(
                a.p, a.ok, a.reg, a.ext, self.reg_total[a.p], self.ext_total[a.p], a.e1, ones
            )
            into = self._accrued(b.p, b.ok, 0.0, 0.0, b.reg, b.ext, ones, b.e2)
            across = (b.ordinal - a.ordinal - 1).astype(np.float64)
            across += (1.0 - q) * rest
            across += q
            across += (1.0 - q) * into
            sessions.reshape(-1)[cross] = across
        sessions /= SESSIONS_PER_YEAR
        ticks = at.select(slice(1, None))
        level = ticks.e1 + ticks.e2
        level *= self.amp
        level += 1.0
        level /= self.c
        extended = ticks.extended
        return sessions, np.where(extended, self.ext_level, level), extended

    def spread_factors(self, extended: np.ndarray) -> np.ndarray:
        """Half-spread multipliers: 1 in regular periods, 1/sqrt(extended_activity) in pre/post
        ones (fewer quotes, a wider spread)."""
        return np.where(extended, self.spread_ext, 1.0)


@dataclass
class _Points:
    p: np.ndarray
    ok: np.ndarray
    ordinal: np.ndarray
    reg: np.ndarray
    ext: np.ndarray
    tau: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    extended: np.ndarray

    def select(self, cols: slice) -> _Points:
        return _Points(*(getattr(self, f.name)[:, cols] for f in fields(self)))

    def flat(self, index: np.ndarray) -> _Points:
        return _Points(*(getattr(self, f.name).reshape(-1)[index] for f in fields(self)))
