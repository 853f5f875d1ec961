"""``/metrics``: who may read it (allow-list, bearer key, proxies), its answers when it cannot or
may not (never a 500), what it holds (REST latency by route and status, the pipeline gauges), and
the Grafana dashboard built on it (``docs/grafana-dashboard.json``). The recorded metrics
themselves: ``ticks/tests/test_metrics.py``; through the real processes: ``test_metrics_e2e.py``.
"""

import json
import re
import time
from pathlib import Path

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from ticks import metrics
from ticks.live_store import KEYS, LiveState
from ticks.market_time import market_now_ms
from ticks.redis_store import get_redis

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
METRICS = "/metrics"


def exposition(response) -> dict[tuple, float]:
    """``{(sample name, sorted labels): value}``."""
    assert response.status_code == 200, response.content
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


@pytest.fixture
def market_keys():
    """The test prefix's market keys in Redis, removed after the test."""
    r = get_redis()
    yield r
    for name in r.scan_iter(match=f"{KEYS.state.rsplit(':', 1)[0]}:*", count=1000):
        r.delete(name)


def test_the_url_is_the_documented_one():
    assert reverse("marketsite:metrics") == METRICS


def test_loopback_reads_the_prometheus_text_format(client):
    response = client.get(METRICS)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert b"# TYPE market_ticks_stored_total counter" in response.content


def test_rest_latency_is_labelled_by_route_name_and_status_not_by_path(client):
    def count(route: str, status: str) -> float:
        key = (
            "market_http_request_duration_seconds_count",
            (("route", route), ("status", status)),
        )
        return exposition(client.get(METRICS)).get(key, 0.0)

    before = (
        count("api:time", "200"),
        count("api:quote", "404"),
        count("api/v1/quote/<str:ticker>/", "404"),
    )
    assert client.get("/api/v1/time").status_code == 200
    assert client.get("/api/v1/quote/NOPE").status_code == 404
    assert client.get("/api/v1/quote/ZZZ").status_code == 404
    assert client.get("/api/v1/quote/NOPE/").status_code == 404  # the unnamed alias: its pattern
    after = (
        count("api:time", "200"),
        count("api:quote", "404"),
        count("api/v1/quote/<str:ticker>/", "404"),
    )
    assert [b - a for a, b in zip(before, after)] == [1, 2, 1]
    text = client.get(METRICS).content.decode()
    assert "NOPE" not in text and "ZZZ" not in text  # never the raw path


def test_a_client_outside_the_allow_list_gets_403_in_plain_text(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = ""
    response = client.get(METRICS)  # from 127.0.0.1
    assert response.status_code == 403
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert b"METRICS_ALLOWED_IPS" in response.content and b"market_" not in response.content
    assert client.get(METRICS, REMOTE_ADDR="10.20.30.40").status_code == 200


def test_with_a_token_others_get_401_and_the_token_opens_it_anywhere(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "prometheus-scrape-key-0123456789"
    refused = client.get(METRICS)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    wrong = client.get(METRICS, HTTP_AUTHORIZATION="Bearer guess")
    assert wrong.status_code == 401
    good = client.get(
        METRICS, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}"
    )
    assert good.status_code == 200 and b"market_" in good.content


def test_behind_a_declared_proxy_the_forwarded_address_decides(client, settings):
    settings.METRICS_ALLOWED_IPS = ["198.51.100.0/24"]
    settings.METRICS_TOKEN = ""
    forwarded = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    assert client.get(METRICS, **forwarded).status_code == 403  # the header is not believed
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client.get(METRICS, **forwarded).status_code == 200


def test_switched_off_it_is_not_there(client, settings):
    settings.METRICS_ENABLED = False
    response = client.get(METRICS)
    assert response.status_code == 404 and b"METRICS_ENABLED=false" in response.content


def test_it_never_answers_500(client, settings, tmp_path):
    assert client.post(METRICS).status_code == 405
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path / "removed")  # not a directory any more
    response = client.get(METRICS)
    assert response.status_code == 503
    assert b"unavailable" in response.content


def test_the_pipeline_gauges_are_read_when_scraped(client, market_keys):
    now = market_now_ms()
    market_keys.hset(KEYS.state, "1", LiveState(seq=9, time_ms=now - 4_000, log_price=5.0).dumps())
    market_keys.set(KEYS.buffer_ticks, 17)
    market_keys.set(KEYS.rolled_through, now - 6_000)
    first = exposition(client.get(METRICS))
    assert first[("market_flush_backlog_ticks", ())] == 17
    assert 4 <= first[("market_generation_lag_seconds", (("shard", "0/1"),))] < 30
    assert 6 <= first[("market_bar_refresh_lag_seconds", ())] < 30
    time.sleep(0.3)  # nothing moved the market: the lags grew by themselves
    second = exposition(client.get(METRICS))
    for name, labels in (
        ("market_generation_lag_seconds", (("shard", "0/1"),)),
        ("market_bar_refresh_lag_seconds", ()),
    ):
        assert second[(name, labels)] >= first[(name, labels)] + 0.25


# --- The Grafana dashboard ------------------------------------------------------------------------


def _expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def test_the_dashboard_is_grafana_json_on_a_prometheus_datasource():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 30
    variable = dashboard["templating"]["list"][0]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])


def test_every_dashboard_expression_names_metrics_the_endpoint_exposes(client, market_keys):
    """Each metric is recorded once, so that each has a sample; then every name the dashboard
    queries must be one /metrics returns, and every metric /metrics returns has a panel."""
    now = market_now_ms()
    market_keys.hset(KEYS.state, "1", LiveState(seq=9, time_ms=now - 100, log_price=5.0).dumps())
    market_keys.set(KEYS.rolled_through, now - 2_000)
    metrics.generation_cycle("0/1", seconds=0.01, ticks=5)
    metrics.ticks_stored(5)
    metrics.rate_limited("anon")
    for protocol in metrics.PROTOCOLS:
        metrics.stream_meter(protocol)
    client.get("/api/v1/time")
    exposed = {name for name, _ in exposition(client.get(METRICS))}
    queried = {
        name for expr in _expressions() for name in re.findall(r"\bmarket_[a-z0-9_]+\b", expr)
    }
    assert queried and queried <= exposed, sorted(queried - exposed)
    ours = {n for n in exposed if n.startswith("market_") and not n.endswith("_created")}
    families = {re.sub(r"_(bucket|count|sum)$", "", n) for n in ours}
    shown = {re.sub(r"_(bucket|count|sum)$", "", n) for n in queried}
    assert families <= shown, f"no panel for {sorted(families - shown)}"
