"""GET /api/v1/events: the envelope, the filters, the errors."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from rest_framework import status

from ticks.events import event_cancel, event_create
from ticks.models import Ticker

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def scripted(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        crash = event_create(kind="move", scope="market", change_pct=-10,
                             duration=timedelta(minutes=5), now=NOW, reason="crash")  # fmt: skip
        halt = event_create(kind="halt", scope="ticker", ticker=Ticker.objects.get(symbol="TECH"),
                            duration=timedelta(minutes=1), start=NOW + timedelta(hours=1),
                            now=NOW)  # fmt: skip
        gap = event_create(kind="gap", scope="sector", sector="Energy", change_pct=5,
                           start=NOW + timedelta(hours=2), now=NOW)  # fmt: skip
        event_cancel(event=gap, now=NOW)
    return crash, halt, gap


def get(client, url, at=NOW + timedelta(minutes=2)):
    with mock.patch("api.events.now", return_value=at):
        return client.get(url)


def test_the_events_with_their_state(client, scripted):
    crash, halt, gap = scripted
    response = get(client, "/api/v1/events")
    assert response.status_code == status.HTTP_200_OK
    body = response.json()
    assert body["meta"] == {"count": 3}
    assert body["data"][1] == {
        "id": halt.pk,
        "kind": "halt",
        "scope": "ticker",
        "sector": None,
        "ticker": "TECH",
        "tickers": ["TECH"],
        "change_pct": None,
        "vol_factor": None,
        "start": "2026-11-20T13:00:00.000Z",
        "end": "2026-11-20T13:01:00.000Z",
        "reason": "",
        "status": "scheduled",
        "created_at": body["data"][1]["created_at"],
    }
    first = body["data"][0]
    assert (first["kind"], first["change_pct"], first["status"]) == ("move", -10.0, "running")
    assert first["start"] == "2026-11-20T12:00:01.000Z" and len(first["tickers"]) == 5
    assert body["data"][2]["status"] == "cancelled"


def test_filters(client, scripted):
    crash, halt, gap = scripted
    ids = lambda url: [e["id"] for e in get(client, url).json()["data"]]  # noqa: E731
    assert ids("/api/v1/events?ticker=tech") == [crash.pk, halt.pk]
    assert ids("/api/v1/events?active=true") == [crash.pk, halt.pk]
    assert ids("/api/v1/events?active=false") == [gap.pk]
    assert ids("/api/v1/events?active=false&ticker=ENERGY") == [gap.pk]


@pytest.mark.parametrize(
    "url, code, expected",
    [
        ("/api/v1/events?ticker=NOPE", status.HTTP_404_NOT_FOUND, "unknown_ticker"),
        ("/api/v1/events?active=maybe", status.HTTP_400_BAD_REQUEST, "invalid_active"),
    ],
)
def test_bad_filters_get_a_clear_error(client, url, code, expected):
    response = get(client, url)
    assert response.status_code == code
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == expected
