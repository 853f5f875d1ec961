"""The OpenAPI schema, its Swagger UI (served from installed files), and a property-based run
of schemathesis against the schema: no input produces a 500 or a response the schema does not
describe."""

import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import status
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.django_db

EXAMPLES = 80  # per operation and mode: about 700 requests in all
OPERATIONS = {
    "/api/v1/",
    "/api/v1/tickers",
    "/api/v1/quote/{ticker}",
    "/api/v1/history/{ticker}",
    "/api/v1/bars/{ticker}",
    "/api/v1/stats/{ticker}",
    "/api/v1/time",
    "/api/v1/events",
}


def test_the_schema_describes_every_endpoint(client):
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == status.HTTP_200_OK
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == OPERATIONS
    bars = schema["paths"]["/api/v1/bars/{ticker}"]["get"]
    params = {p["name"]: p["schema"] for p in bars["parameters"]}
    assert params["timeframe"]["enum"] == ["1d", "1h", "1m", "5m"]
    assert params["limit"] == {"type": "integer", "minimum": 1, "maximum": 5000}
    assert set(bars["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert {"ApiKeyHeader", "BearerKey"} <= set(schema["components"]["securitySchemes"])


def test_swagger_ui_needs_no_cdn(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == status.HTTP_200_OK
    html = page.content.decode()
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == status.HTTP_200_OK, asset
        b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def api_schema(db, recent_ticks):
    """The schema, served by the WSGI application in this thread (so it sees the test's
    transaction). As Django's test client does, requests must not close the connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
WITH_QUERY = ["/api/v1/bars/{ticker}", "/api/v1/history/{ticker}", "/api/v1/stats/{ticker}"]


# Any text but the URL's own delimiters (a client would percent-encode those).
SYMBOLS = st.sampled_from(["SYNTH", "synth", "TECH", " FINANCE"]) | st.text(
    st.characters(blacklist_characters="/?#%", blacklist_categories=["Cs"]), max_size=16
)


def with_ticker(case, symbol):
    case.path_parameters = {**(case.path_parameters or {}), "ticker": symbol}
    return case


@pytest.mark.parametrize(
    "mode, path",
    [
        *(("positive", path) for path in sorted(OPERATIONS)),
        *(("negative", path) for path in WITH_QUERY),
    ],
)
def test_no_input_breaks_the_api(api_schema, mode, path):
    """Requests generated from the schema, valid ones and (negative) ones that violate it: no
    500, every status, content type, header and body as the schema says, and every
    schema-violating request refused with a 4xx."""
    cases = api_schema[path]["GET"].as_strategy(generation_mode=GenerationMode(mode))
    if "{ticker}" in path:  # mostly real tickers, so the data paths are exercised too
        cases = st.builds(with_ticker, cases, SYMBOLS)

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        case.call_and_validate(checks=CHECKS)

    run()
