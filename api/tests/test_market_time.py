"""One market clock: the REST answers' "now" and the quotes' freshness follow
``MARKET_CLOCK_OFFSET_SECONDS`` (market time = wall time + offset), and a ticker on an exchange
calendar is not called stale while its market is closed."""

import time
from datetime import UTC, datetime

import pytest

from testsupport.market_clock import market_at
from ticks.models import Ticker

from .conftest import set_live_quote

pytestmark = pytest.mark.django_db

TEN_YEARS_BACK = -10 * 365 * 86_400.0


def wall_ms() -> int:
    return int(time.time() * 1000)


def quote_meta(client, symbol="SYNTH") -> dict:
    response = client.get(f"/api/v1/quote/{symbol}")
    assert response.status_code == 200, response.content
    return response.json()["meta"]


def live_quote(symbol: str, at_ms: int) -> None:
    set_live_quote(symbol, price=100.0, bid=99.95, ask=100.05, volume=10, timestamp=at_ms, seq=5)


def test_rest_now_follows_the_clock_offset(client, settings):
    settings.MARKET_CLOCK_OFFSET_SECONDS = TEN_YEARS_BACK
    before = wall_ms() + TEN_YEARS_BACK * 1000
    server = client.get("/api/v1/time").json()["data"]
    alpaca = client.get("/v2/clock").json()
    massive = client.get("/v1/marketstatus/now").json()
    after = wall_ms() + TEN_YEARS_BACK * 1000
    assert before <= server["timestamp"] <= after
    shown = datetime.fromisoformat(alpaca["timestamp"].replace("Z", "+00:00"))
    assert before - 1 <= shown.timestamp() * 1000 <= after
    served = datetime.fromisoformat(massive["serverTime"]).timestamp() * 1000
    assert before - 1000 <= served <= after  # whole seconds
    assert shown.year == datetime.now(UTC).year - 10


def test_quote_freshness_follows_the_clock_offset(client, settings):
    settings.MARKET_CLOCK_OFFSET_SECONDS = TEN_YEARS_BACK
    market_now = wall_ms() + int(TEN_YEARS_BACK * 1000)
    live_quote("SYNTH", market_now - 2_000)  # two seconds old in market time
    meta = quote_meta(client)
    assert meta["stale"] is False and 2_000 <= meta["age_ms"] < 10_000
    settings.MARKET_CLOCK_OFFSET_SECONDS = 0.0  # the same tick, ten years old on the wall clock
    meta = quote_meta(client)
    assert meta["stale"] is True and meta["age_ms"] > 9 * 365 * 86_400_000


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def xnys_synth():
    ticker = Ticker.objects.get(symbol="SYNTH")
    ticker.calendar = "XNYS"
    ticker.save()
    return ticker


@pytest.mark.parametrize(
    "now,stale",
    [
        (utc(2026, 11, 26, 15), False),  # Thanksgiving: closed, the close's tick is not stale
        (utc(2026, 11, 27, 14, 30, 5), False),  # 5 s after the open: nothing late yet
        (utc(2026, 11, 27, 15), True),  # open for 30 minutes without a tick
        (utc(2026, 11, 27, 18, 30), False),  # after the early close
    ],
)
def test_a_calendar_tickers_quote_is_stale_only_while_its_market_is_open(
    client, settings, xnys_synth, now, stale
):
    live_quote("SYNTH", ms(utc(2026, 11, 25, 20, 59, 59, 900000)))  # Wednesday's close
    market_at(settings, now)
    meta = quote_meta(client)
    assert meta["stale"] is stale
    assert meta["age_ms"] >= ms(now) - ms(utc(2026, 11, 25, 21))  # ages count market time
