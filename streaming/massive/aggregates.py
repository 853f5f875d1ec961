"""Per-second aggregates (``A``) from the streamed ticks, and each ticker's day so far (``av``,
``op``, ``a`` of ``A`` and ``AM``), for one process (pure: no I/O).

- A second is closed when a later tick of the same ticker arrives (a ticker's ticks arrive in
  order, each cycle after the last), or when the ticker is halted; then its ``A`` is sent, once.
- The day so far (the ticker's day, as its daily bars count it: ``ticks.session_days``, UTC
  for a 24/7 ticker, the exchange's local date for a calendar ticker) through the end of a
  window is the ``DayTotals`` read with the last closed minute bar (``AM``:
  ``ticks.massive_reads.day_totals_through``), plus the ticks streamed since, summed per minute
  here. It is known for a ticker once a minute that started after the process began streaming
  its ticks has closed (every minute since then was seen whole), or from the start of a day the
  process streamed from its first tick. Until then ``av``, ``op`` and ``a`` are left out.
"""

from collections.abc import Callable

from ticks.massive_shapes import DayTotals, stream_agg
from ticks.session_days import DAY_MS, UTC_ZONE, day_start_ms

SECOND_MS = 1_000
MINUTE_MS = 60_000

__all__ = ["DAY_MS", "MINUTE_MS", "SECOND_MS", "Seconds"]


class _Second:
    """One ticker's open second: prices in cents, ``pv`` in cents x shares."""

    __slots__ = ("symbol", "start", "open", "high", "low", "close", "volume", "pv", "trades")

    def __init__(self, symbol: str, start: int, cents: int) -> None:
        self.symbol, self.start = symbol, start
        self.open = self.high = self.low = self.close = cents
        self.volume = self.pv = self.trades = 0

    def add(self, cents: int, volume: int) -> None:
        if cents > self.high:
            self.high = cents
        elif cents < self.low:
            self.low = cents
        self.close = cents
        self.volume += volume
        self.pv += cents * volume
        self.trades += 1


class _Base:
    __slots__ = ("through", "totals")

    def __init__(self, through: int, totals: DayTotals) -> None:
        self.through, self.totals = through, totals


def _utc(symbol: str) -> str:
    return UTC_ZONE


class Seconds:
    def __init__(self, zone_of: Callable[[str], str] = _utc) -> None:
        self.zone_of = zone_of  # symbol -> the zone of its days
        self.open: dict[str, _Second] = {}
        # ticker -> minute start -> [volume, cents x shares, first price in cents]
        self.minutes: dict[str, dict[int, list[int]]] = {}
        self.since: dict[str, int] = {}  # ticker -> the first minute seen whole
        self.bases: dict[str, _Base] = {}  # ticker -> the day through its last closed minute

    def reset(self) -> None:
        self.open.clear()
        self.minutes.clear()
        self.since.clear()
        self.bases.clear()

    def add(self, ticks: list[dict]) -> list[dict]:
        """One cycle's ticks (``/ws`` tick dicts, in order) -> the ``A`` messages of the seconds
        they closed."""
        closed = []
        for t in ticks:
            symbol, ms = t["ticker"], t["timestamp"]
            cents, volume = round(t["price"] * 100), t["volume"]
            start = ms - ms % SECOND_MS
            second = self.open.get(symbol)
            if second is not None and second.start != start:
                if start < second.start:
                    continue  # never happens: a ticker's ticks come in order
                closed.append(self._message(second))
                second = None
            if second is None:
                second = self.open[symbol] = _Second(symbol, start, cents)
                if symbol not in self.since:
                    self.since[symbol] = ms - ms % MINUTE_MS + MINUTE_MS
            second.add(cents, volume)
            minute = ms - ms % MINUTE_MS
            minutes = self.minutes.setdefault(symbol, {})
            acc = minutes.get(minute)
            if acc is None:
                acc = minutes[minute] = [0, 0, cents]
                self._prune(symbol, minute)
            acc[0] += volume
            acc[1] += cents * volume
        return closed

    def close_symbol(self, symbol: str) -> dict | None:
        """Close a ticker's open second now (it was halted): its ``A`` message, if any."""
        second = self.open.pop(symbol, None)
        return self._message(second) if second is not None else None

    def set_base(self, symbol: str, minute_ms: int, totals: DayTotals | None) -> None:
        """The day so far of ``symbol`` through the minute starting at ``minute_ms`` (read when
        that minute's bar closed)."""
        if totals is None:
            return
        base = self.bases.get(symbol)
        if base is None or minute_ms > base.through:
            self.bases[symbol] = _Base(minute_ms, totals)
            self._prune(symbol, minute_ms)

    def day_totals(self, symbol: str, minute_ms: int) -> DayTotals | None:
        """The day so far of ``symbol`` through the ticks of the minute ``minute_ms`` streamed
        so far, or None when it is not known (see the module's docstring)."""
        since = self.since.get(symbol)
        if since is None:
            return None
        zone = self.zone_of(symbol)
        day = day_start_ms(minute_ms, zone)
        minutes = self.minutes.get(symbol, {})
        base = self.bases.get(symbol)
        if base is not None and day_start_ms(base.through, zone) == day:
            if base.through >= minute_ms:
                return None  # a window the base already covers (closed late): not known
            if since > base.through + MINUTE_MS:
                return None  # minutes between the base and what this process saw
            volume, pv = base.totals.volume, base.totals.price_volume
            opening = base.totals.open
            for minute, (v, cents_pv, _) in minutes.items():
                if base.through < minute <= minute_ms:
                    volume += v
                    pv += cents_pv / 100
            return DayTotals(opening, volume, pv)
        if since > day:
            return None  # the day started before this process saw the ticker
        volume, pv, opening = 0, 0.0, None
        for minute in sorted(m for m in minutes if day <= m <= minute_ms):
            v, cents_pv, first = minutes[minute]
            if opening is None:
                opening = first / 100
            volume += v
            pv += cents_pv / 100
        return DayTotals(opening, volume, pv) if opening is not None else None

    def _prune(self, symbol: str, minute_ms: int) -> None:
        """Forget minutes no total needs: those of earlier days, and those a base covers."""
        minutes = self.minutes.get(symbol)
        if not minutes:
            return
        base = self.bases.get(symbol)
        keep_after = day_start_ms(minute_ms, self.zone_of(symbol)) - 1
        if base is not None:
            keep_after = max(keep_after, base.through)
        for minute in [m for m in minutes if m <= keep_after]:
            del minutes[minute]

    def _message(self, second: _Second) -> dict:
        minute = second.start - second.start % MINUTE_MS
        return stream_agg(
            "A",
            second.symbol,
            start_ms=second.start,
            end_ms=second.start + SECOND_MS,
            ohlc=(second.open / 100, second.high / 100, second.low / 100, second.close / 100),
            volume=second.volume,
            vwap=second.pv / second.volume / 100 if second.volume else second.close / 100,
            trades=second.trades,
            day=self.day_totals(second.symbol, minute),
        )
