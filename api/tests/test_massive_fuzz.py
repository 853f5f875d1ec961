"""No input breaks the Massive dialect: generated paths and query strings (hypothesis) against
every Massive route get a 2xx, or a 4xx in Massive's error form; never a 500."""

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

ROUTES = [
    "/v2/aggs/ticker/{symbol}/range/{multiplier}/{timespan}/{from}/{to}",
    "/v2/aggs/ticker/{symbol}/prev",
    "/v2/aggs/grouped/locale/us/market/stocks/{from}",
    "/v3/trades/{symbol}",
    "/v3/quotes/{symbol}",
    "/v2/last/trade/{symbol}",
    "/v2/last/nbbo/{symbol}",
    "/v2/snapshot/locale/us/markets/stocks/tickers",
    "/v2/snapshot/locale/us/markets/stocks/tickers/{symbol}",
    "/v1/marketstatus/now",
    "/v3/reference/tickers",
    "/v3/reference/tickers/{symbol}",
    "/v3/{symbol}",
]
NAMES = [
    "adjusted",
    "sort",
    "limit",
    "cursor",
    "timestamp",
    "timestamp.gte",
    "timestamp.gt",
    "timestamp.lte",
    "timestamp.lt",
    "order",
    "tickers",
    "include_otc",
    "ticker",
    "ticker.gt",
    "type",
    "market",
    "active",
    "search",
    "apiKey",
]
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
NUMBER = st.integers(-(10**20), 10**20).map(str)
VALUES = {
    "limit": st.integers(-5, 60_000).map(str) | TEXT,
    "cursor": st.sampled_from(["WzBd", "WzFlMzAwXQ", "WyJhIl0", "=="]) | TEXT,
    "timestamp": st.sampled_from(["2024-01-01", "1700000000000000000", "-1"]) | NUMBER | TEXT,
    "sort": st.sampled_from(["asc", "desc", "timestamp", "name"]) | TEXT,
    "order": st.sampled_from(["asc", "desc"]) | TEXT,
    "adjusted": st.sampled_from(["true", "false", "TRUE"]) | TEXT,
}
QUERIES = st.dictionaries(
    st.sampled_from(NAMES) | TEXT, st.one_of(TEXT, NUMBER, *VALUES.values()), max_size=6
)
PARTS = {
    "symbol": st.sampled_from(["SYNTH", "tech", "NOPE", "A" * 13]) | TEXT,
    "multiplier": st.sampled_from(["1", "5", "10000", "10001", "0"]) | NUMBER | TEXT,
    "timespan": st.sampled_from(["second", "minute", "hour", "day", "week", "month", "year"])
    | TEXT,
    "from": st.sampled_from(["2024-01-01", "0", "9999-12-31", "99999999999999"]) | NUMBER | TEXT,
    "to": st.sampled_from(["2100-01-01", "1700000000000", "2024-02-30"]) | NUMBER | TEXT,
}


@given(route=st.sampled_from(ROUTES), parts=st.fixed_dictionaries(PARTS), query=QUERIES)
@settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_breaks_the_massive_dialect(client, recent_ticks, route, parts, query):
    path = route
    for name, value in parts.items():
        path = path.replace("{" + name + "}", quote(value, safe="") or "X")
    response = client.get(path, query)
    assert response.status_code < 500, (path, query, response.content[:300])
    assert response.headers["Content-Type"] == "application/json"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"status", "request_id", "error", "message"}, (path, body)
        assert body["status"] in ("ERROR", "NOT_FOUND")
