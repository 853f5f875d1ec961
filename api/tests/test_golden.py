"""Golden REST answers: fixed seeds, a fixed clock, a fixed stored range; every body and the
headers a client reads, byte for byte. A refactoring must leave them identical; a deliberate
change of an answer re-records them (``GOLDEN_RECORD=1``) and says so in its commit."""

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest

from ticks.backfill import plan_backfill, rollup_range, write_plan
from ticks.models import Ticker

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent / "golden" / "rest.json"
UTC = UTC
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the stored range ends here
CLOCK = T0 + timedelta(seconds=30)  # the server's "now" for every request
HEADERS = ("Content-Type", "Link", "Allow")
REQUESTS = [
    "/api/v1/tickers",
    "/api/v1/quote/SYNTH",
    "/api/v1/quote/tech",
    "/api/v1/quote/NOPE",
    "/api/v1/history/SYNTH?start=2026-11-20T11:58:00Z&end=2026-11-20T11:58:01Z",
    "/api/v1/history/TECH?limit=3",
    "/api/v1/history/ENERGY?end=2026-11-20T11:55:00.250Z&limit=4&format=csv",
    "/api/v1/history/SYNTH?start=2026-11-20T11:59:59.5Z&limit=2",
    "/api/v1/bars/SYNTH?timeframe=1m&start=2026-11-20T11:50:00Z&end=2026-11-20T11:53:00Z",
    "/api/v1/bars/FINANCE?timeframe=5m&limit=2",
    "/api/v1/bars/HEALTH?timeframe=1h",
    "/api/v1/bars/SYNTH?timeframe=1m&limit=2&format=csv",
    "/api/v1/stats/SYNTH?period=1h",
    "/api/v1/stats/TECH",
    "/api/v1/stats/SYNTH?period=2h",
    "/api/v1/history/SYNTH?start=yesterday",
    "/api/v1/history/SYNTH?start=2026-11-20T11:00:00Z&end=2026-11-20T10:00:00Z",
    "/api/v1/bars/SYNTH?timeframe=7m",
    "/api/v1/history/SYNTH?limit=0",
    "/api/v1/nowhere",
]


@pytest.fixture
def stored_range():
    """Ten minutes of every seeded ticker's ticks up to T0, and their bars."""
    tickers = list(Ticker.objects.filter(is_active=True).order_by("symbol"))
    plan = plan_backfill(tickers=tickers, duration=timedelta(minutes=10), end=T0, now=T0)
    write_plan(plan)
    rollup_range(plan)


def answers(client) -> dict:
    out = {}
    with mock.patch("api.base.market_now", return_value=CLOCK):  # the REST views' "now"
        for url in REQUESTS:
            response = client.get(url)
            out[url] = {
                "status": response.status_code,
                "headers": {h: response[h] for h in HEADERS if response.has_header(h)},
                "body": (
                    b"".join(response.streaming_content) if response.streaming else response.content
                ).decode(),
            }
    return out


def test_rest_answers_are_unchanged(client, stored_range):
    found = answers(client)
    if os.environ.get("GOLDEN_RECORD"):
        GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert list(found) == list(expected) or set(found) == set(expected)
    for url in REQUESTS:
        assert found[url] == expected[url], url
