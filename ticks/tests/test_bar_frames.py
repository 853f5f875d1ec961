"""Bucket arithmetic of any frame (ticks.bar_frames): Python's floor/bucket_end/ceil and the
SQL the reads run agree, for the widths only the Massive dialect asks for too."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from ticks.bar_frames import BarFrame

MOMENTS = [
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC),
    datetime(2026, 12, 2, 11, 7, 30, 250000, tzinfo=UTC),
    datetime(8999, 12, 31, 12, tzinfo=UTC),
]
FRAMES = [
    BarFrame(1, "Sec"),
    BarFrame(10, "Sec"),
    BarFrame(7, "Min"),
    BarFrame(90, "Min"),
    BarFrame(2880, "Min"),
    BarFrame(5, "Hour"),
    BarFrame(36, "Hour"),
    BarFrame(3, "Day"),
    BarFrame(2, "Week"),
    BarFrame(1, "Week"),
    BarFrame(3, "Month"),
    BarFrame(5, "Month"),
    BarFrame(12, "Month"),
    BarFrame(1200, "Month"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f.name)
def test_python_and_sql_buckets_agree(frame):
    with connection.cursor() as cursor:
        for moment in MOMENTS:
            cursor.execute(
                f"SELECT {frame.bucket_sql('%(t)s::timestamptz')}",
                {"t": moment, "stride": frame.stride()},
            )
            assert cursor.fetchone()[0] == frame.floor(moment), (frame, moment)


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f.name)
def test_buckets_tile_time(frame):
    for moment in MOMENTS[:3]:
        start, end = frame.floor(moment), frame.bucket_end(moment)
        assert start <= moment < end
        assert frame.floor(end) == end  # the next bucket starts where this one ends
        assert frame.ceil(start) == start and frame.ceil(start + timedelta(milliseconds=1)) == end


def test_sources():
    assert BarFrame(1, "Sec").source is None  # from the ticks
    assert [BarFrame(n, "Min").source for n in (1, 5, 10, 7)] == ["1m", "5m", "5m", "1m"]
    assert [BarFrame(1, u).source for u in ("Hour", "Day", "Week", "Month")] == [
        "1h",
        "1d",
        "1d",
        "1d",
    ]
    assert BarFrame(2, "Day").source == "1d" and BarFrame(2, "Day").stored is None


ZONES = ["America/New_York", "Asia/Tokyo", "Asia/Kolkata"]
ZONED_MOMENTS = [
    datetime(2026, 11, 1, 3, 59, 59, tzinfo=UTC),  # the last minute of EDT's Halloween in New York
    datetime(2026, 11, 1, 4, tzinfo=UTC),  # New York's midnight of November 1 (still EDT)
    datetime(2026, 11, 27, 5, tzinfo=UTC),
    datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC),  # Tokyo's midnight of December 1 is 15:00
    datetime(2027, 3, 14, 12, tzinfo=UTC),  # New York's spring change
]


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("frame", [f for f in FRAMES if f.unit in ("Day", "Week", "Month")],
                         ids=lambda f: f.name)  # fmt: skip
def test_days_weeks_and_months_follow_a_zone_alike_in_python_and_sql(frame, zone):
    with connection.cursor() as cursor:
        for moment in ZONED_MOMENTS:
            cursor.execute(
                f"SELECT {frame.bucket_sql('%(t)s::timestamptz', zone='%(zone)s')}",
                {"t": moment, "stride": frame.stride(), "zone": zone},
            )
            start = frame.floor(moment, zone)
            assert cursor.fetchone()[0] == start, (frame, zone, moment)
            end = frame.bucket_end(moment, zone)
            assert start <= moment < end and frame.floor(end, zone) == end
            local = start.astimezone(ZoneInfo(zone))
            assert (local.hour, local.minute) == (0, 0)  # a local midnight


def test_a_zone_leaves_clock_frames_on_utc():
    moment = datetime(2026, 11, 27, 14, 37, tzinfo=UTC)
    for frame in (BarFrame(1, "Hour"), BarFrame(5, "Min"), BarFrame(36, "Hour")):
        assert frame.floor(moment, "Asia/Kolkata") == frame.floor(moment)
