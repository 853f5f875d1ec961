"""One test per validation rule: each bad parameter is a 400 with its own code and a message
naming the parameter and what it accepts; nothing is read."""

import pytest
from rest_framework import status

from api.inputs import parse_time

pytestmark = pytest.mark.django_db

DATE_MESSAGE = (
    "{name}: not a date between 1970 and 9000. Use ISO 8601 with an offset or Z "
    "(2024-01-15T10:30:45.123Z; without one it is UTC) or epoch milliseconds "
    "(1705314645123)."
)


def error_of(client, url):
    response = client.get(url)
    assert response.status_code == status.HTTP_400_BAD_REQUEST, response.content
    body = response.json()
    assert body["success"] is False and set(body) == {"success", "error"}
    return body["error"]


@pytest.mark.parametrize("endpoint", ["history", "bars"])
@pytest.mark.parametrize("name", ["start", "end"])
@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2024-13-01",
        "2024-01-15T25:00:00Z",
        "1969-12-31T23:59:59Z",
        "9999-01-01T00:00:00Z",
        "99999999999999999",
        "1e12",
        "2024-01-15T10:00:00+25:00",
        "x" * 100,
        "2024-01-15%00",
        "١٧٠٥٣١٤٦٤٥١٢٣",
        "-1",
    ],
)
def test_invalid_date(client, endpoint, name, value):
    assert error_of(client, f"/api/v1/{endpoint}/SYNTH?{name}={value}") == {
        "code": "invalid_date",
        "message": DATE_MESSAGE.format(name=name),
    }


@pytest.mark.parametrize("endpoint", ["history", "bars"])
@pytest.mark.parametrize(
    "start, end",
    [
        ("2024-01-15T10:00:00Z", "2024-01-15T10:00:00Z"),
        ("2024-01-15T10:00:01Z", "2024-01-15T10:00:00Z"),
        ("1705314645123", "1705314645122"),
    ],
)
def test_start_must_be_before_end(client, endpoint, start, end):
    assert error_of(client, f"/api/v1/{endpoint}/SYNTH?start={start}&end={end}") == {
        "code": "invalid_range",
        "message": "start must be earlier than end (the window is start <= time < end).",
    }


@pytest.mark.parametrize(
    "url, span",
    [
        ("history/SYNTH?start=2024-01-01T00:00:00Z&end=2024-01-02T00:00:01Z", "1 day"),
        ("bars/SYNTH?start=2024-01-01T00:00:00Z&end=2024-01-08T00:00:01Z", "7 days"),
        ("bars/SYNTH?timeframe=5m&start=2024-01-01T00:00:00Z&end=2024-02-05T00:00:01Z", "35 days"),
        ("bars/SYNTH?timeframe=1h&start=2024-01-01T00:00:00Z&end=2025-03-01T00:00:00Z", "420 days"),
    ],
)
def test_window_too_large(client, url, span):
    assert error_of(client, f"/api/v1/{url}") == {
        "code": "window_too_large",
        "message": f"The window from start to end is larger than {span}: ask for a shorter "
        "one, or give start alone and follow meta.next.",
    }


@pytest.mark.parametrize(
    "url",
    [
        "history/SYNTH?start=2024-01-01T00:00:00Z&end=2024-01-02T00:00:00Z",
        "bars/SYNTH?start=2024-01-01T00:00:00Z&end=2024-01-08T00:00:00Z",
        "bars/SYNTH?timeframe=1d&start=2001-01-01T00:00:00Z&end=2024-01-01T00:00:00Z",
    ],
)
def test_the_largest_windows_are_fine(client, url):
    assert client.get(f"/api/v1/{url}").status_code == status.HTTP_200_OK


@pytest.mark.parametrize("endpoint, maximum", [("history", 10000), ("bars", 5000)])
@pytest.mark.parametrize(
    "value",
    [
        "0",
        "-1",
        "abc",
        "1.5",
        "1e3",
        "%2B5",
        "0x10",
        "١٢",
        "%20",
        "",
        "99999999999999999999",
        "{maximum_plus_one}",
    ],
)
def test_invalid_limit(client, endpoint, maximum, value):
    value = value.replace("{maximum_plus_one}", str(maximum + 1))
    assert error_of(client, f"/api/v1/{endpoint}/SYNTH?limit={value}") == {
        "code": "invalid_limit",
        "message": f"limit: must be a whole number from 1 to {maximum}.",
    }


@pytest.mark.parametrize("endpoint, maximum", [("history", 10000), ("bars", 5000)])
def test_limits_at_the_bounds_are_fine(client, endpoint, maximum):
    for value in (1, maximum):
        assert client.get(f"/api/v1/{endpoint}/SYNTH?limit={value}").status_code == 200


@pytest.mark.parametrize("value", ["2m", "1M", "1H", "1w", "60", "1m ", "all", ""])
def test_invalid_timeframe(client, value):
    assert error_of(client, f"/api/v1/bars/SYNTH?timeframe={value}") == {
        "code": "invalid_timeframe",
        "message": "timeframe: must be one of 1m, 5m, 1h, 1d.",
    }


@pytest.mark.parametrize("value", ["2d", "1w", "1D", "30", "365d", "1m"])
def test_invalid_period(client, value):
    assert error_of(client, f"/api/v1/stats/SYNTH?period={value}") == {
        "code": "invalid_period",
        "message": "period: must be one of 1h, 1d, 7d, 30d.",
    }


@pytest.mark.parametrize(
    "url, code",
    [
        ("bars/SYNTH?timeframe=", "invalid_timeframe"),
        ("bars/SYNTH?start=", "invalid_date"),
        ("history/SYNTH?end=", "invalid_date"),
        ("history/SYNTH?limit=", "invalid_limit"),
        ("stats/SYNTH?period=", "invalid_period"),
    ],
)
def test_an_empty_parameter_is_not_the_default(client, url, code):
    assert error_of(client, f"/api/v1/{url}")["code"] == code


def test_the_ticker_is_checked_before_the_parameters(client):
    response = client.get("/api/v1/history/NOPE?limit=0")
    assert response.status_code == status.HTTP_404_NOT_FOUND
    assert response.json()["error"]["code"] == "unknown_ticker"


def test_unknown_parameters_are_ignored(client):
    assert client.get("/api/v1/history/SYNTH?foo=bar").status_code == status.HTTP_200_OK


@pytest.mark.parametrize(
    "text, expected_ms",
    [
        ("2024-01-15T10:30:45.123Z", 1705314645123),
        ("2024-01-15T10:30:45.123z", 1705314645123),
        ("2024-01-15T10:30:45.123", 1705314645123),
        ("2024-01-15T12:30:45.123+02:00", 1705314645123),
        ("2024-01-15T12:30:45.123 02:00", 1705314645123),
        ("2024-01-15T05:30:45.123-05:00", 1705314645123),
        ("20240115T103045.123Z", 1705314645123),
        ("2024-01-15", 1705276800000),
        ("1705314645123", 1705314645123),
        ("0", 0),
    ],
)
def test_accepted_dates(text, expected_ms):
    moment = parse_time(text)
    assert int(moment.timestamp() * 1000) == expected_ms and moment.utcoffset().seconds == 0
