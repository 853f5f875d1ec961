"""What a scrape returns: the recorded metrics of this host's processes (``ticks.metrics``) and,
on the web endpoint, the live pipeline's lags and backlog read from Redis at that moment.

- ``PROMETHEUS_MULTIPROC_DIR`` set: prometheus-client's ``MultiProcessCollector`` merges the
  files every process of the host wrote there (daphne processes, the generator, the workers), so
  any one process answers for all of them;
- unset: this process's own metrics (prometheus-client's default registry).

``PipelineCollector`` reads the market's shared state (Redis), not a process's: the numbers are
the same whichever process or host answers, and they keep rising while the process that should
lower them is stopped or dead, which a value set by that process would not.
"""

import logging

import redis
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .live_store import KEYS, LiveState
from .market_time import market_now_ms
from .redis_store import get_redis
from .shards import Shard, shard_of

logger = logging.getLogger(__name__)


def pipeline_gauges(*, now_ms: int) -> dict:
    """``{"lag_ms": {shard name: ms}, "backlog_ticks", "backlog_entries", "bar_lag_ms"}`` from
    Redis: a shard's lag is market time now minus the oldest of its active tickers' newest ticks
    (``market_status``'s shard lag); the bar lag is now minus the newest tick the bar refresh
    has rolled up (None before the first refresh). Raises ``redis.RedisError``."""
    pipe = get_redis().pipeline(transaction=False)
    pipe.hgetall(KEYS.state)
    pipe.get(KEYS.buffer_ticks)
    pipe.xlen(KEYS.buffer)
    pipe.get(KEYS.rolled_through)
    states, buffered, entries, rolled = pipe.execute()
    count = settings.GENERATION_SHARDS
    oldest: dict[int, int] = {}
    for tid, raw in states.items():
        state = LiveState.loads(raw)
        if not state.active:
            continue
        shard = shard_of(int(tid), count)
        oldest[shard] = min(oldest.get(shard, state.time_ms), state.time_ms)
    return {
        "lag_ms": {
            Shard(index, count).name: max(0, now_ms - t) for index, t in sorted(oldest.items())
        },
        "backlog_ticks": max(0, int(buffered or 0)),
        "backlog_entries": entries,
        "bar_lag_ms": None if rolled is None else max(0, now_ms - int(rolled)),
    }


class PipelineCollector:
    """The lags and the flush backlog, read when scraped. Redis unreachable: left out (logged),
    the rest of the scrape still answers."""

    def collect(self):
        try:
            gauges = pipeline_gauges(now_ms=market_now_ms())
        except redis.RedisError as exc:
            logger.warning("metrics: the pipeline gauges are left out, Redis failed: %s", exc)
            return
        lag = GaugeMetricFamily(
            "market_generation_lag_seconds",
            "Market time now minus the oldest newest tick of the shard's active tickers",
            labels=["shard"],
        )
        for shard, ms in gauges["lag_ms"].items():
            lag.add_metric([shard], ms / 1000)
        yield lag
        yield GaugeMetricFamily(
            "market_flush_backlog_ticks",
            "Ticks generated and waiting in the Redis buffer for the flush to PostgreSQL",
            value=gauges["backlog_ticks"],
        )
        yield GaugeMetricFamily(
            "market_flush_backlog_entries",
            "Generation cycles (buffer entries) waiting for the flush",
            value=gauges["backlog_entries"],
        )
        if gauges["bar_lag_ms"] is not None:
            yield GaugeMetricFamily(
                "market_bar_refresh_lag_seconds",
                "Market time now minus the newest tick the bar refresh has rolled up",
                value=gauges["bar_lag_ms"] / 1000,
            )


class _DefaultRegistry:
    """prometheus-client's default registry as one collector (single-process mode)."""

    def collect(self):
        return REGISTRY.collect()


def scrape_registry(*, pipeline: bool, path: str | None = None) -> CollectorRegistry:
    """The registry a scrape renders: the multiprocess directory ``path`` (default
    ``PROMETHEUS_MULTIPROC_DIR``; none: this process's metrics), plus ``PipelineCollector``."""
    path = path if path is not None else settings.PROMETHEUS_MULTIPROC_DIR
    registry = CollectorRegistry()
    if path:
        MultiProcessCollector(registry, path=path)
    else:
        registry.register(_DefaultRegistry())
    if pipeline:
        registry.register(PipelineCollector())
    return registry
