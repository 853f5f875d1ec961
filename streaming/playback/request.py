"""A playback's range and speed as clients write them, for every dialect (pure).

Times: epoch milliseconds (a number, or digits in a URL) or an ISO 8601 / RFC 3339 time with a
zone (``2026-03-02T14:30:00Z``). Speed: a positive multiple of market time up to ``MAX_SPEED``
(``60``: a minute a second), or ``"max"`` (as fast as the client reads). ``BadRequest`` carries
the coded error.
"""

import math
from dataclasses import dataclass
from datetime import datetime

BAD_TIME = "bad_time"
BAD_SPEED = "bad_speed"
MAX_SPEED = 1_000_000
MAX = "max"
_MS_RANGE = (0, 253_402_300_799_999)  # 1970 .. 9999-12-31


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Range:
    start_ms: int
    end_ms: int
    speed: float | None  # None: max


def parse_time(value, name: str) -> int:
    """Epoch ms of ``value`` (a number, digits, or an ISO 8601 time with a zone)."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or not _MS_RANGE[0] <= value <= _MS_RANGE[1]:
            raise BadRequest(BAD_TIME, f'"{name}" is out of range (epoch milliseconds)')
        return int(value)
    if isinstance(value, str) and 0 < len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                raise BadRequest(BAD_TIME, f'"{name}" needs a time zone, e.g. a trailing Z')
            return int(moment.timestamp() * 1000)
    raise BadRequest(
        BAD_TIME,
        f'"{name}" must be a time: epoch milliseconds or ISO 8601 with a zone '
        "(2026-03-02T14:30:00Z)",
    )


def parse_speed(value) -> float | None:
    """The speed as a multiple of market time, None for "max"."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == MAX:
            return None
        try:
            value = float(text)
        except ValueError:
            value = None
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value <= MAX_SPEED
    ):
        return float(value)
    raise BadRequest(
        BAD_SPEED,
        f'"speed" must be a number above 0 and up to {MAX_SPEED} (a multiple of market '
        'time: 60 plays a minute a second) or "max"',
    )


def parse_range(start, end, speed) -> Range:
    if start is None or end is None:
        raise BadRequest(BAD_TIME, '"start" and "end" are required')
    if speed is None:
        raise BadRequest(BAD_SPEED, '"speed" is required: a multiple of market time or "max"')
    return Range(parse_time(start, "start"), parse_time(end, "end"), parse_speed(speed))
