"""The metrics the pipeline records (``ticks.metrics``), the pipeline gauges read from Redis and
the multiprocess exposition (``ticks.metrics_export``), and who may read them
(``ticks.metrics_access``). The endpoint: ``marketsite/tests/test_metrics_endpoint.py``; through
the real processes: ``marketsite/tests/test_metrics_e2e.py``."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.multiprocess import mark_process_dead
from prometheus_client.parser import text_string_to_metric_families

from ticks import metrics, metrics_export
from ticks.flush import ticks_flush
from ticks.live import ticks_generate
from ticks.live_store import KEYS, LiveState
from ticks.market import to_ms
from ticks.metrics_access import metrics_refusal
from ticks.metrics_export import PipelineCollector, pipeline_gauges, scrape_registry
from ticks.models import Tick
from ticks.refresh import bars_refresh

ROOT = Path(__file__).resolve().parents[2]


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def samples(text: bytes) -> dict[tuple, float]:
    """``{(sample name, sorted label items): value}`` of an exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


# --- recorded by the pipeline ---------------------------------------------------------------------


@pytest.mark.django_db
def test_generation_cycles_and_flushes_record_their_time_and_ticks(live_redis, t0):
    cycles = sample("market_generation_cycle_seconds_count", shard="0/1")
    generated = sample("market_ticks_generated_total", shard="0/1")
    stored = sample("market_ticks_stored_total")
    first = ticks_generate(now=t0)
    second = ticks_generate(now=t0 + timedelta(seconds=3))
    assert second.ticks == 5 * 30
    assert sample("market_generation_cycle_seconds_count", shard="0/1") == cycles + 2
    assert sample("market_generation_cycle_seconds_sum", shard="0/1") > 0
    assert sample("market_ticks_generated_total", shard="0/1") == generated + first.ticks + 150
    report = ticks_flush()
    assert report.ticks == first.ticks + 150
    assert sample("market_ticks_stored_total") == stored + report.ticks


@pytest.mark.django_db
def test_with_metrics_off_nothing_is_recorded(live_redis, t0, settings):
    settings.METRICS_ENABLED = False
    cycles = sample("market_generation_cycle_seconds_count", shard="0/1")
    stored = sample("market_ticks_stored_total")
    ticks_generate(now=t0)
    assert ticks_flush().ticks > 0
    metrics.http_request("api:quote", 200, 0.01)
    metrics.rate_limited("anon")
    assert sample("market_generation_cycle_seconds_count", shard="0/1") == cycles
    assert sample("market_ticks_stored_total") == stored


def test_http_requests_are_recorded_by_route_and_status():
    before = sample("market_http_request_duration_seconds_count", route="api:quote", status="200")
    slow = sample(
        "market_http_request_duration_seconds_bucket", route="api:quote", status="200", le="0.1"
    )
    metrics.http_request("api:quote", 200, 0.004)
    metrics.http_request("api:quote", 200, 0.3)
    metrics.http_request(None, 404, 0.001)
    assert (
        sample("market_http_request_duration_seconds_count", route="api:quote", status="200")
        == before + 2
    )
    assert (
        sample(
            "market_http_request_duration_seconds_bucket", route="api:quote", status="200", le="0.1"
        )
        == slow + 1
    )
    assert sample("market_http_request_duration_seconds_count", route="unmatched", status="404")


def test_stream_tallies_reach_the_counters_within_a_second_without_a_scrape():
    meter = metrics.stream_meter("massive")
    before = sample("market_stream_messages_sent_total", protocol="massive")
    meter.sent.count += 3
    deadline = time.monotonic() + 5  # flushed every FLUSH_INTERVAL_S (1 s) by a thread
    while sample("market_stream_messages_sent_total", protocol="massive") < before + 3:
        assert time.monotonic() < deadline, "the tally was not flushed"
        time.sleep(0.05)
    assert sample("market_stream_messages_sent_total", protocol="massive") == before + 3


# --- read from Redis at scrape time ---------------------------------------------------------------


def _state(time_ms: int, *, active: bool = True) -> str:
    return LiveState(seq=1, time_ms=time_ms, log_price=4.6, active=active).dumps()


def test_pipeline_gauges_per_shard_backlog_and_bar_lag(live_redis, settings):
    settings.GENERATION_SHARDS = 2
    now = 1_800_000_000_000
    live_redis.hset(
        KEYS.state,
        mapping={
            "1": _state(now - 300),  # shard 1
            "3": _state(now - 2_500),  # shard 1: its oldest
            "2": _state(now - 100),  # shard 0
            "4": _state(now - 90_000, active=False),  # shard 0, paused: not lagging
        },
    )
    live_redis.set(KEYS.buffer_ticks, 42)
    live_redis.xadd(KEYS.buffer, {"rows": b"", "meta": b"{}"})
    live_redis.xadd(KEYS.buffer, {"rows": b"", "meta": b"{}"})
    gauges = pipeline_gauges(now_ms=now)
    assert gauges == {
        "lag_ms": {"0/2": 100, "1/2": 2_500},
        "backlog_ticks": 42,
        "backlog_entries": 2,
        "bar_lag_ms": None,  # no refresh yet
    }
    live_redis.set(KEYS.rolled_through, now - 1_250)
    assert pipeline_gauges(now_ms=now)["bar_lag_ms"] == 1_250


@pytest.mark.django_db
def test_the_bar_refresh_records_the_newest_tick_it_rolled_up(live_redis, t0):
    ticks_generate(now=t0)
    ticks_generate(now=t0 + timedelta(seconds=70))
    ticks_flush()
    bars_refresh()
    newest = Tick.objects.order_by("-time").values_list("time", flat=True).first()
    now = to_ms(t0) + 75_000
    assert pipeline_gauges(now_ms=now)["bar_lag_ms"] == now - to_ms(newest)
    assert pipeline_gauges(now_ms=now)["lag_ms"] == {"0/1": now - to_ms(newest)}


def test_the_pipeline_collector_leaves_its_gauges_out_when_redis_fails(monkeypatch):
    def unreachable(**kwargs):
        raise redis.ConnectionError("refused")

    monkeypatch.setattr(metrics_export, "pipeline_gauges", unreachable)
    assert list(PipelineCollector().collect()) == []
    text = generate_latest(scrape_registry(pipeline=True, path=""))
    assert b"market_flush_backlog_ticks" not in text
    assert b"market_ticks_stored_total" in text  # the rest still answers


# --- several processes, one directory -------------------------------------------------------------

WRITER = """
import os, sys, django
django.setup()
from ticks import metrics
metrics.ticks_stored(int(sys.argv[1]))
metrics.stream_meter("ws").clients.inc()
metrics.generation_cycle("0/1", seconds=0.02, ticks=7)
print(os.getpid())
"""


def _write_metrics(directory: Path, stored: int) -> int:
    """A separate process records metrics into ``directory`` and exits; its pid."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(stored)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout.split()[-1])


def test_any_process_answers_for_every_process_of_the_directory(tmp_path):
    first = _write_metrics(tmp_path, 5)
    second = _write_metrics(tmp_path, 11)
    merged = samples(generate_latest(scrape_registry(pipeline=False, path=str(tmp_path))))
    assert merged[("market_ticks_stored_total", ())] == 16
    assert merged[("market_ticks_generated_total", (("shard", "0/1"),))] == 14
    assert merged[("market_generation_cycle_seconds_count", (("shard", "0/1"),))] == 2
    assert merged[("market_stream_clients", (("protocol", "ws"),))] == 2
    # A process ends: its live gauge goes, its counters stay (totals never go backwards).
    mark_process_dead(first, str(tmp_path))
    merged = samples(generate_latest(scrape_registry(pipeline=False, path=str(tmp_path))))
    assert merged[("market_stream_clients", (("protocol", "ws"),))] == 1
    assert merged[("market_ticks_stored_total", ())] == 16
    assert second != first


# --- who may read them ----------------------------------------------------------------------------


def test_the_allow_list_admits_its_networks_only(settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "192.168.1.7", "::1/128"]
    settings.METRICS_TOKEN = ""
    for address in ("10.1.2.3", "192.168.1.7", "::1", "::ffff:10.9.9.9"):
        assert metrics_refusal(client_ip=address, authorization=None) is None, address
    for address in ("192.168.1.8", "11.0.0.1", "", None, "not-an-address"):
        refusal = metrics_refusal(client_ip=address, authorization=None)
        assert refusal.status == 403 and "METRICS_ALLOWED_IPS" in refusal.message, address
    # No token configured: a bearer header opens nothing.
    assert metrics_refusal(client_ip="11.0.0.1", authorization="Bearer ").status == 403


def test_a_bearer_token_admits_any_address(settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.METRICS_TOKEN = "s3cret-scrape-key"
    assert metrics_refusal(client_ip="8.8.8.8", authorization="Bearer s3cret-scrape-key") is None
    assert metrics_refusal(client_ip="8.8.8.8", authorization="bearer  s3cret-scrape-key ") is None
    assert metrics_refusal(client_ip="127.0.0.1", authorization=None) is None  # still listed
    missing = metrics_refusal(client_ip="8.8.8.8", authorization=None)
    assert missing.status == 401 and missing.headers == {
        "WWW-Authenticate": 'Bearer realm="metrics"'
    }
    wrong = metrics_refusal(client_ip="8.8.8.8", authorization="Bearer s3cret-scrape-kez")
    assert wrong.status == 401 and "not it" in wrong.message
    basic = metrics_refusal(client_ip="8.8.8.8", authorization="Basic czNjcmV0")
    assert basic.status == 401
