"""The service's Prometheus metrics: every one of them, named and labelled here, and how each
part records its own (README, "Metrics"; the exposition is ``ticks.metrics_export``).

prometheus-client runs in its multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` names a
directory (the library reads the variable when it is imported, before any metric exists): each
process writes its values to its own files there, and whichever process answers ``/metrics``
merges the files of every process of its host. Unset, the values live in the process, and a
scrape shows that one process's. ``METRICS_ENABLED=false`` records nothing.

What is recorded where, and what it costs:

- **generation** (the generator, once per cycle): cycle time per shard, ticks generated;
- **flush** (the worker, once per flush): ticks stored;
- **streams** (daphne): open connections per protocol (at connect and close), messages sent
  and dropped per protocol, counted in plain integers by each connection's outbox
  (``Tally``) and added to the counters once a second: a frame costs an integer addition;
- **HTTP** (daphne, once per request): latency by route and status; rate-limit rejections.

The lags and the flush backlog are read from Redis when ``/metrics`` is scraped
(``ticks.metrics_export``): they keep rising while the process that should lower them is stopped.
"""

import atexit
import threading
import time

from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram

# Latency buckets, in seconds: a REST answer takes a few milliseconds, a generation cycle a few
# to a few hundred.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

GENERATION_CYCLE = Histogram(
    "market_generation_cycle_seconds",
    "Duration of one generation cycle of a shard (lease held: plan, engine, Redis commit, "
    "announce)",
    ["shard"],
    buckets=DURATION_BUCKETS,
)
TICKS_GENERATED = Counter(
    "market_ticks_generated", "Ticks generated and committed to Redis", ["shard"]
)
TICKS_STORED = Counter("market_ticks_stored", "Ticks flushed from the Redis buffer to PostgreSQL")
STREAM_CLIENTS = Gauge(
    "market_stream_clients",
    "Open WebSocket connections, by protocol",
    ["protocol"],
    multiprocess_mode="livesum",
)
STREAM_SENT = Counter(
    "market_stream_messages_sent", "WebSocket messages (frames) sent, by protocol", ["protocol"]
)
STREAM_DROPPED = Counter(
    "market_stream_messages_dropped",
    "WebSocket messages discarded for a client that fell behind (closed as slow) or that went "
    "away with messages still queued, by protocol",
    ["protocol"],
)
HTTP_DURATION = Histogram(
    "market_http_request_duration_seconds",
    "HTTP request latency, by route (the URL pattern's name) and status",
    ["route", "status"],
    buckets=DURATION_BUCKETS,
)
RATE_LIMITED = Counter(
    "market_rate_limit_rejections",
    "REST requests refused with 429, by the limit that refused them (key, dashboard, anon)",
    ["limit"],
)

# Stream protocols, the values of the ``protocol`` label.
PROTOCOLS = ("ws", "alpaca", "massive", "playback")
UNMATCHED_ROUTE = "unmatched"  # a request no URL pattern matched (or answered before routing)


def enabled() -> bool:
    return settings.METRICS_ENABLED


# --- generation, flush ------------------------------------------------------------------------


def generation_cycle(shard: str, *, seconds: float, ticks: int) -> None:
    """A generation cycle of ``shard`` ran (``Shard.name``) and committed ``ticks``."""
    if not enabled():
        return
    GENERATION_CYCLE.labels(shard).observe(seconds)
    if ticks:
        TICKS_GENERATED.labels(shard).inc(ticks)


def ticks_stored(count: int) -> None:
    if enabled() and count:
        TICKS_STORED.inc(count)


# --- HTTP ---------------------------------------------------------------------------------------

_http_children: dict[tuple[str, str], object] = {}


def http_request(route: str | None, status: int, seconds: float) -> None:
    """One HTTP request answered: ``route`` the URL pattern's name (None: none matched)."""
    if not enabled():
        return
    labels = (route or UNMATCHED_ROUTE, str(status))
    child = _http_children.get(labels)
    if child is None:
        child = _http_children[labels] = HTTP_DURATION.labels(*labels)
    child.observe(seconds)


def rate_limited(limit: str) -> None:
    """A REST request refused by the ``limit`` rate limit (``key``, ``dashboard``, ``anon``)."""
    if enabled():
        RATE_LIMITED.labels(limit).inc()


# --- streams ------------------------------------------------------------------------------------


class Tally:
    """A counter for a hot path: ``count`` is a plain integer, added to from one thread (the
    event loop); ``flush()`` adds what it gained since the last flush to the Prometheus counter.
    Every tally is flushed once a second by a daemon thread, before every scrape, and when the
    process exits normally."""

    __slots__ = ("count", "_flushed", "_counter")

    def __init__(self, counter) -> None:
        self.count = 0
        self._flushed = 0
        self._counter = counter

    def flush(self) -> None:
        count = self.count  # one read: the event loop may add meanwhile
        if count != self._flushed:
            self._counter.inc(count - self._flushed)
            self._flushed = count


FLUSH_INTERVAL_S = 1.0
_tallies: list[Tally] = []
_flush_lock = threading.Lock()
_flusher: threading.Thread | None = None


def flush_tallies() -> None:
    with _flush_lock:
        for tally in _tallies:
            tally.flush()


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_INTERVAL_S)
        flush_tallies()


def _tally(counter) -> Tally:
    global _flusher
    tally = Tally(counter)
    with _flush_lock:
        _tallies.append(tally)
        if _flusher is None:
            _flusher = threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True)
            _flusher.start()
            atexit.register(flush_tallies)  # the last second's counts, when the process ends
    return tally


class StreamMeter:
    """One protocol's stream metrics, shared by its connections in a process: ``clients`` (the
    gauge's child), ``sent`` and ``dropped`` (``Tally``)."""

    __slots__ = ("protocol", "clients", "sent", "dropped")

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.clients = STREAM_CLIENTS.labels(protocol)
        self.sent = _tally(STREAM_SENT.labels(protocol))
        self.dropped = _tally(STREAM_DROPPED.labels(protocol))


_meters: dict[str, StreamMeter] = {}
_meters_lock = threading.Lock()


def stream_meter(protocol: str) -> StreamMeter | None:
    """The meter of ``protocol`` (one of ``PROTOCOLS``) in this process; None when metrics are
    off."""
    if not enabled():
        return None
    meter = _meters.get(protocol)
    if meter is None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown stream protocol {protocol!r}; one of {PROTOCOLS}")
        with _meters_lock:
            meter = _meters.get(protocol)
            if meter is None:
                meter = _meters[protocol] = StreamMeter(protocol)
    return meter
