"""Bar frames (``amount`` x ``unit``) and how each is read from what we store: one owner for
the Alpaca dialect (``ticks.alpaca_bars`` names frames in Alpaca's grammar) and the Massive
dialect (``ticks.massive_reads``: ``multiplier`` x ``timespan``).

We store 1m, 5m, 1h and 1d bars (``ticks.rollup``): those four frames are read as stored;
every other one is aggregated, in the same SQL statement, from the nearest stored frame that
tiles it (5m for multiples of five minutes, else 1m; 1h for hours; 1d for days, weeks and
months), or from the ticks for seconds, exactly as the rollup combines levels (first open,
highest high, lowest low, last close, summed volume and trade count, VWAP weighted by volume,
4 decimals).

Buckets are UTC and labelled by their start. Seconds, minutes and hours restart at each UTC
midnight when the width is at most a day (so ``7Min``'s last bucket of a day is shorter) and
count from the Unix epoch when wider; ``n`` days count from the Unix epoch; weeks start on
Monday (``n`` weeks from Monday 1970-01-05); months on the 1st, ``n`` months counted from
January 1970 (so ``3Month``: January, April, July, October). A bar is returned when its label
lies in the requested ``[start, end]``; it is always the whole bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["BarFrame", "UNITS"]

UNITS = ("Sec", "Min", "Hour", "Day", "Week", "Month")
_STORED = {(1, "Min"): "1m", (5, "Min"): "5m", (1, "Hour"): "1h", (1, "Day"): "1d"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)
_DAY = timedelta(days=1)
_CLOCK = {"Sec": timedelta(seconds=1), "Min": timedelta(minutes=1), "Hour": timedelta(hours=1)}


@dataclass(frozen=True)
class BarFrame:
    amount: int
    unit: str  # Sec, Min, Hour, Day, Week, Month

    @property
    def name(self) -> str:
        """The canonical name (``15Min``)."""
        return f"{self.amount}{self.unit}"

    @property
    def stored(self) -> str | None:
        """Our timeframe when this frame is stored as it is (``1m``...), else None."""
        return _STORED.get((self.amount, self.unit))

    @property
    def source(self) -> str | None:
        """The stored frame this one is read or aggregated from; None: from the ticks."""
        if self.stored:
            return self.stored
        if self.unit == "Sec":
            return None
        if self.unit == "Min":
            return "5m" if self.amount % 5 == 0 else "1m"
        return "1h" if self.unit == "Hour" else "1d"

    def _within_day(self) -> bool:
        return self.unit in _CLOCK and self.stride() <= _DAY

    def bucket_sql(self, column: str = '"time"') -> str:
        """SQL of the bucket start (timestamptz) of the bar holding ``column``; parameters:
        ``%(stride)s`` (an interval, ``stride()``)."""
        if self._within_day():
            return f"date_bin(%(stride)s, {column}, date_trunc('day', {column}, 'UTC'))"
        if self.unit in _CLOCK or self.unit == "Day":
            return f"date_bin(%(stride)s, {column}, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
        if self.unit == "Week":
            if self.amount == 1:
                return f"date_trunc('week', {column}, 'UTC')"
            return f"date_bin(%(stride)s, {column}, TIMESTAMPTZ '1970-01-05 00:00:00+00')"
        month = f"extract(month FROM {column} AT TIME ZONE 'UTC')::int"
        year = f"extract(year FROM {column} AT TIME ZONE 'UTC')::int"
        if 12 % self.amount == 0:  # within the year: January is always a bucket start
            return (
                f"make_timestamptz({year}, ({month} - 1) / {self.amount} * {self.amount} + 1, "
                "1, 0, 0, 0, 'UTC')"
            )
        index = f"(floor((({year} - 1970) * 12 + {month} - 1)::numeric / {self.amount})::int"
        start = f"{index} * {self.amount})"
        return f"make_timestamptz(1970 + {start} / 12, mod({start}, 12) + 1, 1, 0, 0, 0, 'UTC')"

    def stride(self) -> timedelta | None:
        if self.unit in _CLOCK:
            return self.amount * _CLOCK[self.unit]
        if self.unit == "Day":
            return self.amount * _DAY
        if self.unit == "Week":
            return self.amount * 7 * _DAY
        return None

    def floor(self, moment: datetime) -> datetime:
        """The start of the bucket holding ``moment`` (UTC)."""
        moment = moment.astimezone(UTC)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self._within_day():
            stride = self.stride()
            return day + (moment - day) // stride * stride
        if self.unit in _CLOCK or self.unit == "Day":
            stride = self.stride()
            return _EPOCH + (moment - _EPOCH) // stride * stride
        if self.unit == "Week":
            stride = self.stride()
            return _MONDAY + (day - _MONDAY) // stride * stride
        months = (moment.year - 1970) * 12 + moment.month - 1
        start = months // self.amount * self.amount
        return day.replace(year=1970 + start // 12, month=start % 12 + 1, day=1)

    def bucket_end(self, moment: datetime) -> datetime:
        """The end of the bucket holding ``moment`` (exclusive)."""
        start = self.floor(moment)
        if self._within_day():
            midnight = start.replace(hour=0, minute=0, second=0) + _DAY
            return min(start + self.stride(), midnight)
        if self.unit != "Month":
            return start + self.stride()
        months = start.month - 1 + self.amount
        return start.replace(year=start.year + months // 12, month=months % 12 + 1)

    def ceil(self, moment: datetime) -> datetime:
        """The first bucket start at or after ``moment``."""
        start = self.floor(moment)
        return start if start == moment else self.bucket_end(moment)
