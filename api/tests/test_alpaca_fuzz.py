"""No input breaks the Alpaca dialect: generated paths and query strings (hypothesis) against
every /v2/ route get a 2xx, or a 4xx in Alpaca's error form; never a 500."""

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

ROUTES = [
    "/v2/stocks/bars",
    "/v2/stocks/trades",
    "/v2/stocks/quotes",
    "/v2/stocks/bars/latest",
    "/v2/stocks/trades/latest",
    "/v2/stocks/quotes/latest",
    "/v2/stocks/snapshots",
    "/v2/stocks/{symbol}/bars",
    "/v2/stocks/{symbol}/trades",
    "/v2/stocks/{symbol}/quotes",
    "/v2/stocks/{symbol}/bars/latest",
    "/v2/stocks/{symbol}/trades/latest",
    "/v2/stocks/{symbol}/quotes/latest",
    "/v2/stocks/{symbol}/snapshot",
    "/v2/clock",
    "/v2/calendar",
    "/v2/assets",
    "/v2/assets/{symbol}",
]
NAMES = [
    "symbols",
    "timeframe",
    "start",
    "end",
    "limit",
    "page_token",
    "sort",
    "feed",
    "adjustment",
    "asof",
    "currency",
    "status",
    "asset_class",
    "exchange",
    "date_type",
]
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
VALUES = {
    "symbols": st.sampled_from(["SYNTH", "SYNTH,TECH", "synth, tech", ",", "NOPE"]) | TEXT,
    "timeframe": st.sampled_from(["1Min", "7T", "1Week", "12Month", "0Min", "1Sec"]) | TEXT,
    "start": st.sampled_from(["2024-01-01", "2024-01-01T00:00:00Z", "9999-12-31"]) | TEXT,
    "end": st.sampled_from(["2024-01-02", "2024-01-01T00:00:00 05:00", "0000-01-01"]) | TEXT,
    "limit": st.integers(-5, 20_000).map(str) | TEXT,
    "page_token": st.sampled_from(["WyJTWU5USCIsMF0", "WyJTWU5USCIsMWUzMDBd", "=="]) | TEXT,
    "sort": st.sampled_from(["asc", "desc"]) | TEXT,
}
QUERIES = st.dictionaries(
    st.sampled_from(NAMES) | TEXT, st.one_of(TEXT, *VALUES.values()), max_size=6
).map(lambda q: {k: v for k, v in q.items()})
SYMBOLS = st.sampled_from(["SYNTH", "tech", "NOPE", "5b0e6a3e-3c5d-5c1a-9a53-73796e746821"]) | TEXT


@given(route=st.sampled_from(ROUTES), symbol=SYMBOLS, query=QUERIES)
@settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_breaks_the_alpaca_dialect(client, recent_ticks, route, symbol, query):
    path = route.replace("{symbol}", quote(symbol, safe="") or "X")
    response = client.get(path, query)
    assert response.status_code < 500, (path, query, response.content[:300])
    assert response.headers["Content-Type"] == "application/json"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "message"} and isinstance(body["code"], int)
        assert str(body["code"]).startswith(str(response.status_code))
