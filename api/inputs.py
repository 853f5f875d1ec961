"""Query parameters, validated by small input serializers. Every error names the parameter and
what it accepts, under its own code (``invalid_date``, ``invalid_range``, ``window_too_large``,
``invalid_limit``, ``invalid_timeframe``, ``invalid_period``)."""

import re
from datetime import UTC, datetime, timedelta

from rest_framework import serializers
from rest_framework.fields import empty

from ticks.market import from_ms

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)  # far enough to page through, safe to add to
_EPOCH_MS = re.compile(r"-?[0-9]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,9}")
# "+02:00" sent unencoded in a URL arrives as " 02:00".
_SPACED_OFFSET = re.compile(r"(.*T[0-9:.,]+) ([0-9]{2}(?::?[0-9]{2})?)")

DATE_HELP = (
    "ISO 8601 with an offset or Z (2024-01-15T10:30:45.123Z; without one it is UTC) "
    "or epoch milliseconds (1705314645123)"
)
TIMEFRAMES = ("1m", "5m", "1h", "1d")
TIMEFRAME_WIDTH = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
PERIODS = ("1h", "1d", "7d", "30d")


def parse_time(text: str) -> datetime | None:
    """An aware UTC datetime, or None when ``text`` is not a date we accept."""
    text = text.strip()
    if len(text) > 64:
        return None
    if _EPOCH_MS.fullmatch(text):
        try:
            moment = from_ms(int(text))
        except (OverflowError, OSError, ValueError):
            return None
    else:
        if text[-1:] == "z":
            text = text[:-1] + "Z"
        moment = _fromisoformat(text)
        if moment is None:
            spaced = _SPACED_OFFSET.fullmatch(text)
            moment = _fromisoformat(f"{spaced[1]}+{spaced[2]}") if spaced else None
        if moment is None:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            moment = moment.astimezone(UTC)
        except (OverflowError, ValueError):
            return None
    return moment if EARLIEST <= moment < LATEST else None


def _fromisoformat(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


class QueryParam(serializers.Field):
    """A query parameter: absent means the default; present, even empty, it must be valid."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


class TimeParam(QueryParam):
    def to_internal_value(self, data):
        moment = parse_time(data) if isinstance(data, str) else None
        if moment is None:
            raise serializers.ValidationError(
                f"{self.field_name}: not a date between 1970 and 9000. Use {DATE_HELP}.",
                code="invalid_date",
            )
        return moment


class LimitParam(QueryParam):
    def __init__(self, *, maximum: int, **kwargs):
        self.maximum = maximum
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = int(data) if isinstance(data, str) and _DIGITS.fullmatch(data.strip()) else 0
        if not 1 <= value <= self.maximum:
            raise serializers.ValidationError(
                f"limit: must be a whole number from 1 to {self.maximum}.", code="invalid_limit"
            )
        return value


class ChoiceParam(QueryParam):
    def __init__(self, *, choices: tuple[str, ...], code: str, **kwargs):
        self.choices, self.code = choices, code
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if data not in self.choices:
            raise serializers.ValidationError(
                f"{self.field_name}: must be one of {', '.join(self.choices)}.", code=self.code
            )
        return data


class WindowInput(serializers.Serializer):
    """``start``, ``end`` (``start < end``, at most ``max_span`` apart) and ``limit``."""

    start = TimeParam(required=False)
    end = TimeParam(required=False)

    def max_span(self, attrs) -> timedelta:
        raise NotImplementedError

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if start is not None and end is not None:
            if start >= end:
                raise serializers.ValidationError(
                    "start must be earlier than end (the window is start <= time < end).",
                    code="invalid_range",
                )
            span = self.max_span(attrs)
            if end - start > span:
                raise serializers.ValidationError(
                    f"The window from start to end is larger than {_human(span)}: ask for a "
                    "shorter one, or give start alone and follow meta.next.",
                    code="window_too_large",
                )
        return attrs


class HistoryInput(WindowInput):
    DEFAULT_SPAN = timedelta(hours=1)
    MAX_SPAN = timedelta(days=1)
    DEFAULT_LIMIT, MAX_LIMIT = 1000, 10_000

    limit = LimitParam(maximum=MAX_LIMIT, required=False, default=DEFAULT_LIMIT)

    def max_span(self, attrs) -> timedelta:
        return self.MAX_SPAN


class BarsInput(WindowInput):
    DEFAULT_SPAN = timedelta(days=1)
    DEFAULT_LIMIT, MAX_LIMIT = 500, 5000
    # The widest window one request may name: 1m 7 days, 5m 35 days, 1h 420 days, 1d 23 years.
    MAX_SPAN_BUCKETS = 10_080

    timeframe = ChoiceParam(
        choices=TIMEFRAMES, code="invalid_timeframe", required=False, default="1m"
    )
    limit = LimitParam(maximum=MAX_LIMIT, required=False, default=DEFAULT_LIMIT)

    def max_span(self, attrs) -> timedelta:
        return TIMEFRAME_WIDTH[attrs.get("timeframe", "1m")] * self.MAX_SPAN_BUCKETS


class StatsInput(serializers.Serializer):
    period = ChoiceParam(choices=PERIODS, code="invalid_period", required=False, default="1d")


def _human(span: timedelta) -> str:
    if span % timedelta(days=1) == timedelta(0):
        days = span // timedelta(days=1)
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{span // timedelta(hours=1)} hours"
