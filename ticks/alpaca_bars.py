"""Bar frames in Alpaca's grammar (``ticks.bar_frames`` reads them).

Alpaca names a bar width ``<amount><unit>``: ``[1-59]Min`` (or ``T``), ``[1-23]Hour`` (``H``),
``1Day`` (``D``), ``1Week`` (``W``), ``[1,2,3,4,6,12]Month`` (``M``). How each frame is read
from our stored bars, and where its buckets start, is ``ticks.bar_frames``' (shared with the
Massive dialect): minutes and hours restart at each UTC midnight; days, weeks (from Monday) and
months (from the 1st; ``3Month``: January, April, July, October) are the ticker's days
(``ticks.session_days``: UTC, or the exchange's local dates for a calendar ticker).
"""

from __future__ import annotations

import re

from .bar_frames import BarFrame

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


def parse_frame(text: str) -> BarFrame | None:
    """The frame named ``text`` in Alpaca's grammar, or None."""
    match = _GRAMMAR.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    amount, unit = int(match[1]), _UNITS[match[2]]
    if amount not in _AMOUNTS[unit]:
        return None
    return BarFrame(amount, unit)
