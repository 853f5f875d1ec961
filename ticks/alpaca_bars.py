"""Bar frames in Alpaca's grammar and how each is read from our stored bars.

Alpaca names a bar width ``<amount><unit>``: ``[1-59]Min`` (or ``T``), ``[1-23]Hour`` (``H``),
``1Day`` (``D``), ``1Week`` (``W``), ``[1,2,3,4,6,12]Month`` (``M``). We store 1m, 5m, 1h and 1d
bars (``ticks.rollup``): those four frames are read as stored; every other one is aggregated, in
the same SQL statement, from the nearest stored frame that tiles it (5m for multiples of five
minutes, else 1m; 1h for hours; 1d for weeks and months), exactly as the rollup combines
levels (first open, highest high, lowest low, last close, summed volume and trade count, VWAP
weighted by volume, 4 decimals).

Buckets are UTC and labelled by their start: minutes and hours restart at each UTC midnight
(so ``7Min``'s last bucket of a day is shorter), weeks start on Monday, months on the 1st of
the month (``3Month``: January, April, July, October). A bar is returned when its label lies in
the requested ``[start, end]``; it is always the whole bucket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["BarFrame", "parse_frame"]

_GRAMMAR = re.compile(r"([0-9]{1,2})(Min|T|Hour|H|Day|D|Week|W|Month|M)")
_UNITS = {
    "Min": "Min",
    "T": "Min",
    "Hour": "Hour",
    "H": "Hour",
    "Day": "Day",
    "D": "Day",
    "Week": "Week",
    "W": "Week",
    "Month": "Month",
    "M": "Month",
}
_AMOUNTS = {
    "Min": range(1, 60),
    "Hour": range(1, 24),
    "Day": (1,),
    "Week": (1,),
    "Month": (1, 2, 3, 4, 6, 12),
}
_STORED = {(1, "Min"): "1m", (5, "Min"): "5m", (1, "Hour"): "1h", (1, "Day"): "1d"}
_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)


@dataclass(frozen=True)
class BarFrame:
    amount: int
    unit: str  # Min, Hour, Day, Week, Month

    @property
    def name(self) -> str:
        """The canonical name (``15Min``)."""
        return f"{self.amount}{self.unit}"

    @property
    def stored(self) -> str | None:
        """Our timeframe when this frame is stored as it is (``1m``...), else None."""
        return _STORED.get((self.amount, self.unit))

    @property
    def source(self) -> str:
        """The stored frame this one is read or aggregated from."""
        if self.stored:
            return self.stored
        if self.unit == "Min":
            return "5m" if self.amount % 5 == 0 else "1m"
        return "1h" if self.unit == "Hour" else "1d"

    def bucket_sql(self, column: str = '"time"') -> str:
        """SQL of the bucket start (timestamptz) of the bar holding ``column``; parameters:
        ``%(stride)s`` (an interval, ``stride()``)."""
        if self.unit in ("Min", "Hour"):
            return f"date_bin(%(stride)s, {column}, date_trunc('day', {column}, 'UTC'))"
        if self.unit == "Week":
            return f"date_trunc('week', {column}, 'UTC')"
        if self.unit == "Month":
            month = f"extract(month FROM {column} AT TIME ZONE 'UTC')::int"
            year = f"extract(year FROM {column} AT TIME ZONE 'UTC')::int"
            return (
                f"make_timestamptz({year}, ({month} - 1) / {self.amount} * {self.amount} + 1, "
                "1, 0, 0, 0, 'UTC')"
            )
        return column  # 1Day: stored

    def stride(self) -> timedelta | None:
        if self.unit == "Min":
            return timedelta(minutes=self.amount)
        if self.unit == "Hour":
            return timedelta(hours=self.amount)
        return None

    def floor(self, moment: datetime) -> datetime:
        """The start of the bucket holding ``moment`` (UTC)."""
        moment = moment.astimezone(UTC)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.unit in ("Min", "Hour"):
            stride = self.stride()
            return day + (moment - day) // stride * stride
        if self.unit == "Day":
            return day
        if self.unit == "Week":
            return day - timedelta(days=(day - _MONDAY).days % 7)
        month = (moment.month - 1) // self.amount * self.amount + 1
        return day.replace(month=month, day=1)

    def bucket_end(self, moment: datetime) -> datetime:
        """The end of the bucket holding ``moment`` (exclusive)."""
        start = self.floor(moment)
        if self.unit in ("Min", "Hour"):
            end = start + self.stride()
            midnight = start.replace(hour=0, minute=0) + timedelta(days=1)
            return min(end, midnight)
        if self.unit == "Day":
            return start + timedelta(days=1)
        if self.unit == "Week":
            return start + timedelta(days=7)
        months = start.month - 1 + self.amount
        return start.replace(year=start.year + months // 12, month=months % 12 + 1)


def parse_frame(text: str) -> BarFrame | None:
    """The frame named ``text`` in Alpaca's grammar, or None."""
    match = _GRAMMAR.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    amount, unit = int(match[1]), _UNITS[match[2]]
    if amount not in _AMOUNTS[unit]:
        return None
    return BarFrame(amount, unit)
