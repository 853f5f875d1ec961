"""Alpaca's bar-frame grammar and our bucket arithmetic (ticks.alpaca_bars), in Python and in
the SQL the reads run."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from ticks.alpaca_bars import BarFrame, parse_frame


@pytest.mark.parametrize(
    "text, frame",
    [
        ("1Min", BarFrame(1, "Min")),
        ("59T", BarFrame(59, "Min")),
        ("23Hour", BarFrame(23, "Hour")),
        ("4H", BarFrame(4, "Hour")),
        ("1Day", BarFrame(1, "Day")),
        ("1D", BarFrame(1, "Day")),
        ("1Week", BarFrame(1, "Week")),
        ("1W", BarFrame(1, "Week")),
        ("4Month", BarFrame(4, "Month")),
        ("12M", BarFrame(12, "Month")),
        (" 15Min ", BarFrame(15, "Min")),
    ],
)
def test_the_grammar(text, frame):
    assert parse_frame(text) == frame


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Min",
        "0Min",
        "60Min",
        "24Hour",
        "2Day",
        "2Week",
        "5Month",
        "1min",
        "1Sec",
        "1.5H",
        "100Min",
        "1 Min",
        "１Min",
        None,
        5,
    ],
)
def test_what_the_grammar_refuses(text):
    assert parse_frame(text) is None


def test_stored_frames_and_sources():
    assert [parse_frame(t).stored for t in ("1Min", "5Min", "1Hour", "1Day", "15Min")] == [
        "1m",
        "5m",
        "1h",
        "1d",
        None,
    ]
    assert [parse_frame(t).source for t in ("15Min", "7Min", "2Hour", "1Week", "3Month")] == [
        "5m",
        "1m",
        "1h",
        "1d",
        "1d",
    ]


MOMENTS = [
    datetime(2024, 1, 1, 0, 0, tzinfo=UTC),
    datetime(2024, 2, 29, 23, 59, tzinfo=UTC),
    datetime(2024, 7, 17, 13, 37, tzinfo=UTC),
    datetime(2024, 12, 31, 23, 55, tzinfo=UTC),
    datetime(2025, 3, 2, 6, 5, tzinfo=UTC),  # a Sunday
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["7Min", "15Min", "2Hour", "5Hour", "1Week", "3Month", "4Month", "12Month", "1Month"]
)
def test_sql_buckets_equal_python_floors(name):
    frame = parse_frame(name)
    with connection.cursor() as cursor:
        for moment in MOMENTS:
            cursor.execute(
                f"SELECT {frame.bucket_sql('%(t)s::timestamptz')}",
                {"t": moment, "stride": frame.stride()},
            )
            assert cursor.fetchone()[0] == frame.floor(moment), (name, moment)


def test_bucket_ends():
    assert parse_frame("7Min").bucket_end(datetime(2024, 1, 1, 23, 58, tzinfo=UTC)) == datetime(
        2024, 1, 2, tzinfo=UTC
    )  # minutes restart at midnight: the day's last 7Min bucket is 5 minutes long
    assert parse_frame("1Week").floor(MOMENTS[4]) == datetime(2025, 2, 24, tzinfo=UTC)
    assert parse_frame("1Week").bucket_end(MOMENTS[4]) == datetime(2025, 3, 3, tzinfo=UTC)
    assert parse_frame("3Month").bucket_end(MOMENTS[3]) == datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_frame("12Month").floor(MOMENTS[2]) == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_frame("1Day").bucket_end(MOMENTS[1]) - parse_frame("1Day").floor(
        MOMENTS[1]
    ) == timedelta(days=1)
