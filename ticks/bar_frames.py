"""Bar frames (``amount`` x ``unit``) and how each is read from what we store: one owner for
the Alpaca dialect (``ticks.alpaca_bars`` names frames in Alpaca's grammar) and the Massive
dialect (``ticks.massive_reads``: ``multiplier`` x ``timespan``).

We store 1m, 5m, 1h and 1d bars (``ticks.rollup``): those four frames are read as stored;
every other one is aggregated, in the same SQL statement, from the nearest stored frame that
tiles it (5m for multiples of five minutes, else 1m; 1h for hours; 1d for days, weeks and
months), or from the ticks for seconds, exactly as the rollup combines levels (first open,
highest high, lowest low, last close, summed volume and trade count, VWAP weighted by volume,
4 decimals).

Buckets are labelled by their start (in UTC). Seconds, minutes and hours are UTC: they restart
at each UTC midnight when the width is at most a day (so ``7Min``'s last bucket of a day is
shorter) and count from the Unix epoch when wider. Days, weeks and months are the ticker's
(``ticks.session_days``: UTC for a 24/7 ticker, the exchange's local dates for a calendar
ticker, labelled at local midnight): ``n`` days count from 1970-01-01; weeks start on Monday
(``n`` weeks from Monday 1970-01-05); months on the 1st, ``n`` months counted from January 1970
(so ``3Month``: January, April, July, October). A bar is returned when its label lies in the
requested ``[start, end]``; it is always the whole bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["BarFrame", "UNITS"]

UNITS = ("Sec", "Min", "Hour", "Day", "Week", "Month")
_STORED = {(1, "Min"): "1m", (5, "Min"): "5m", (1, "Hour"): "1h", (1, "Day"): "1d"}
_EPOCH = datetime(1970, 1, 1)  # naive: bucket arithmetic runs on the zone's wall time
_MONDAY = datetime(1970, 1, 5)
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

    def bucket_sql(self, column: str = '"time"', zone: str = "'UTC'") -> str:
        """SQL of the bucket start (timestamptz) of the bar holding ``column``; parameters:
        ``%(stride)s`` (an interval, ``stride()``). ``zone``: the SQL of the time zone whose
        days, weeks and months the buckets follow (a ticker's, ``ticks.session_days``);
        seconds, minutes and hours are UTC whatever it is."""
        if self._within_day():
            return f"date_bin(%(stride)s, {column}, date_trunc('day', {column}, 'UTC'))"
        if self.unit in _CLOCK:
            return f"date_bin(%(stride)s, {column}, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
        local = f"({column} AT TIME ZONE {zone})"
        if self.unit == "Day":
            return f"(date_bin(%(stride)s, {local}, TIMESTAMP '1970-01-01') AT TIME ZONE {zone})"
        if self.unit == "Week":
            if self.amount == 1:
                return f"date_trunc('week', {column}, {zone})"
            return f"(date_bin(%(stride)s, {local}, TIMESTAMP '1970-01-05') AT TIME ZONE {zone})"
        month = f"extract(month FROM {local})::int"
        year = f"extract(year FROM {local})::int"
        if 12 % self.amount == 0:  # within the year: January is always a bucket start
            return (
                f"make_timestamptz({year}, ({month} - 1) / {self.amount} * {self.amount} + 1, "
                f"1, 0, 0, 0, {zone})"
            )
        index = f"(floor((({year} - 1970) * 12 + {month} - 1)::numeric / {self.amount})::int"
        start = f"{index} * {self.amount})"
        return f"make_timestamptz(1970 + {start} / 12, mod({start}, 12) + 1, 1, 0, 0, 0, {zone})"

    def stride(self) -> timedelta | None:
        if self.unit in _CLOCK:
            return self.amount * _CLOCK[self.unit]
        if self.unit == "Day":
            return self.amount * _DAY
        if self.unit == "Week":
            return self.amount * 7 * _DAY
        return None

    def _local(self, moment: datetime, zone: str) -> datetime:
        """``moment`` as a naive time of the zone its buckets follow (UTC within a day)."""
        if zone == "UTC" or self.unit in _CLOCK:
            return moment.astimezone(UTC).replace(tzinfo=None)
        return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)

    def _aware(self, naive: datetime, zone: str) -> datetime:
        if zone == "UTC" or self.unit in _CLOCK:
            return naive.replace(tzinfo=UTC)
        return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)

    def _floor_naive(self, moment: datetime) -> datetime:
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

    def _end_naive(self, start: datetime) -> datetime:
        if self._within_day():
            midnight = start.replace(hour=0, minute=0, second=0) + _DAY
            return min(start + self.stride(), midnight)
        if self.unit != "Month":
            return start + self.stride()
        months = start.month - 1 + self.amount
        return start.replace(year=start.year + months // 12, month=months % 12 + 1)

    def floor(self, moment: datetime, zone: str = "UTC") -> datetime:
        """The start of the bucket holding ``moment`` (UTC; days, weeks and months of
        ``zone``, an IANA name)."""
        return self._aware(self._floor_naive(self._local(moment, zone)), zone)

    def bucket_end(self, moment: datetime, zone: str = "UTC") -> datetime:
        """The end of the bucket holding ``moment`` (exclusive)."""
        start = self._floor_naive(self._local(moment, zone))
        return self._aware(self._end_naive(start), zone)

    def ceil(self, moment: datetime, zone: str = "UTC") -> datetime:
        """The first bucket start at or after ``moment``."""
        start = self.floor(moment, zone)
        return start if start == moment else self.bucket_end(moment, zone)
