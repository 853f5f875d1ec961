"""REST API: latency per endpoint and req/s under concurrency, on one daphne process.

Data: a day of backfilled 10 Hz ticks for the 5 tickers (4.32 M, rolled up into bars), and,
for the 30-day statistics, 1m bars for the 30 days before them, written straight into the bar
table by one ``generate_series`` statement (a random walk per ticker ending at its first tick,
bars only, no ticks) and rolled up into 5m/1h/1d like real ones; then ANALYZE, as autovacuum
would soon after a bulk load. The latest quotes go into the live quote cache as the generator
leaves them (FINANCE's is left out, to measure the database fallback).

One daphne (``config.asgi``, settings ``bench.rest_settings``: the local settings with debug off
and one extra bench-only URL) serves everything. Latency: sequential requests over one
keep-alive connection, p50/p99 per endpoint. Throughput: ``--concurrency`` connections for
``--seconds``, for ``quote`` and ``tickers`` and, on the same process in the same run, a minimal
Django view returning a constant JSON body (``/bench/constant``): the framework's ceiling. Each
round runs the three back to back, so a round's ratios share the machine's load of the moment;
the figure is the median of the rounds' ratios. Daphne's CPU use shows it, not the load
generator, was the limit.
"""

import asyncio
import os
import statistics
import socket
import time
from datetime import timedelta

from .common import record, setup_django, table

CONSTANT = "/bench/constant"
TARGETS = {  # endpoint label: p50 limit in ms
    "bars 1m (1 day, 500 bars)": 15.0,
    "stats 30d": 30.0,
    "history limit=10000": 150.0,
}
TARGET_QUOTE_RATIO = 0.8
SEED = {"quote req/s": 268, "stats 1d": 442, "history limit=10000": 522,
        "bars 1m (1 day, 500 bars)": 1850}  # the figures of the seed's server

SYNTHETIC_BARS_SQL = """
WITH walk AS (
    SELECT k.id AS ticker_id, %(t0)s - n * interval '1 minute' AS "time",
           first.price::float8 * exp(-k.volatility * sqrt(1 / 525600.0)
               * sum((random() - 0.5) * sqrt(12.0)) OVER (PARTITION BY k.id ORDER BY n))
               AS close
      FROM ticks_ticker k
      CROSS JOIN LATERAL (SELECT price FROM ticks_tick t WHERE t.ticker_id = k.id
                          ORDER BY "time" LIMIT 1) first
      CROSS JOIN generate_series(1, %(minutes)s) n
     WHERE k.is_active
), bars AS (
    SELECT ticker_id, "time", close,
           coalesce(lag(close) OVER (PARTITION BY ticker_id ORDER BY "time"), close) AS open
      FROM walk
)
INSERT INTO ticks_bar (ticker_id, timeframe, "time", open, high, low, close, volume,
                       trade_count, vwap)
SELECT ticker_id, '1m', "time", round(open::numeric, 2),
       round((greatest(open, close) * 1.0003)::numeric, 2),
       round((least(open, close) * 0.9997)::numeric, 2), round(close::numeric, 2),
       600 * (20 + (random() * 20)::int), 600, round(((open + close) / 2)::numeric, 4)
  FROM bars
"""


def add_arguments(parser) -> None:
    parser.add_argument("--hours", type=float, default=24.0,
                        help="hours of backfilled 10 Hz ticks for 5 tickers (default 24)")
    parser.add_argument("--bar-days", type=int, default=30,
                        help="days of 1m bars before the ticks, for stats 30d (default 30)")
    parser.add_argument("--samples", type=int, default=200,
                        help="sequential requests per endpoint for the latencies")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=4.0, help="per throughput run")
    parser.add_argument("--rounds", type=int, default=5,
                        help="throughput rounds, each running the three back to back")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the data of the previous run if it is there")


# --- data ---------------------------------------------------------------------------------------

def _prepare(args) -> dict:
    from django.db import connection
    from django.utils import timezone

    from ticks.backfill import plan_backfill, rollup_range, write_plan
    from ticks.models import Ticker
    from ticks.rollup import bars_rollup

    tickers = list(Ticker.objects.filter(is_active=True).order_by("symbol"))
    with connection.cursor() as cursor:
        cursor.execute('SELECT count(*), min("time"), max("time") FROM ticks_tick')
        count, first, last = cursor.fetchone()
    expected = int(args.hours * 36_000) * len(tickers)
    if args.reuse and count and count >= expected * 0.99:
        print(f"  reusing {count:,} ticks ({first:%Y-%m-%d %H:%M} .. {last:%H:%M})")
        _analyze()
        return {"first": first, "last": last, "ticks": count}
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ticks_tick, ticks_bar, ticks_tickerstate")
    now = timezone.now()
    plan = plan_backfill(tickers=tickers, duration=timedelta(hours=args.hours), end=now, now=now)
    started = time.perf_counter()
    written = write_plan(plan)
    rollup_range(plan)
    print(f"  backfilled {written:,} ticks and their bars in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute('SELECT min("time") FROM ticks_tick')
        t0 = cursor.fetchone()[0].replace(second=0, microsecond=0)  # the first tick's minute
        cursor.execute(SYNTHETIC_BARS_SQL, {"t0": t0, "minutes": args.bar_days * 1440})
        synthetic = cursor.rowcount
    bars_rollup(start=t0 - timedelta(days=args.bar_days), end=t0)
    _analyze()
    with connection.cursor() as cursor:
        cursor.execute('SELECT count(*), min("time"), max("time") FROM ticks_tick')
        count, first, last = cursor.fetchone()
    print(f"  wrote {synthetic:,} 1m bars for {args.bar_days} days before them and rolled them "
          f"up in {time.perf_counter() - started:.0f} s")
    return {"first": first, "last": last, "ticks": count}


def _analyze() -> None:
    """Planner statistics of the freshly loaded tables, as autovacuum gathers them within a
    minute of a bulk load (without them, "newest N ticks" is planned as a sort of the window)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ticks_tick")
        cursor.execute("ANALYZE ticks_bar")


def _set_quotes(prefix: str) -> None:
    """The live quote cache as the generator leaves it: each ticker's newest tick."""
    import orjson

    from ticks.market import to_ms
    from ticks.models import Tick, Ticker
    from ticks.redis_store import get_redis

    r = get_redis()
    for ticker in Ticker.objects.filter(is_active=True):
        tick = Tick.objects.filter(ticker=ticker).order_by("-time").first()
        r.hset(f"{prefix}:quotes", ticker.symbol, orjson.dumps({
            "ticker": ticker.symbol, "price": float(tick.price), "volume": tick.volume,
            "bid": float(tick.bid), "ask": float(tick.ask), "timestamp": to_ms(tick.time),
            "seq": tick.seq}))
    r.hdel(f"{prefix}:quotes", "FINANCE")  # served from the database: the fallback's figure


# --- load ---------------------------------------------------------------------------------------

def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def _latencies(base: str, paths: dict[str, str], samples: int) -> dict[str, tuple]:
    import aiohttp

    results = {}
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(base, connector=connector) as session:
        for label, path in paths.items():
            times, size = [], 0
            for i in range(samples + 10):
                started = time.perf_counter()
                async with session.get(path) as response:
                    body = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{path}: HTTP {response.status} {body[:200]!r}")
                if i >= 10:  # the first ten warm up
                    times.append((time.perf_counter() - started) * 1000)
                size = len(body)
            results[label] = (_percentile(times, 50), _percentile(times, 99), size)
            print(f"  {label:<34} p50 {results[label][0]:7.2f} ms  p99 {results[label][1]:7.2f} ms")
    return results


async def _throughput(base: str, path: str, *, concurrency: int, seconds: float) -> tuple:
    import aiohttp

    done = errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector) as session:
        async def worker(deadline):
            nonlocal done, errors
            while time.perf_counter() < deadline:
                async with session.get(path) as response:
                    await response.read()
                    if response.status == 200:
                        done += 1
                    else:
                        errors += 1

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(worker(warm) for _ in range(concurrency)))
        done = errors = 0
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return done / elapsed, errors


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the run ------------------------------------------------------------------------------------

def run(args) -> int:
    url = setup_django(suffix="rest")
    from django.conf import settings

    from ticks.market import to_ms
    from testsupport.stack import Stack

    print(f"rest: {args.hours:g} h of 10 Hz ticks x 5 tickers + {args.bar_days} days of 1m bars")
    data = _prepare(args)
    end = to_ms(data["last"]) + 1  # an explicit end, so reused data reads the same
    paths = {
        "constant JSON (minimal Django view)": CONSTANT,
        "time": "/api/v1/time",
        "tickers": "/api/v1/tickers",
        "quote (live cache)": "/api/v1/quote/SYNTH",
        "quote (database fallback)": "/api/v1/quote/FINANCE",
        "history (default limit=1000)": f"/api/v1/history/SYNTH?end={end}",
        "history limit=10000": f"/api/v1/history/SYNTH?end={end}&limit=10000",
        "history limit=10000 as CSV": f"/api/v1/history/SYNTH?end={end}&limit=10000&format=csv",
        "bars 1m (1 day, 500 bars)": f"/api/v1/bars/SYNTH?timeframe=1m&end={end}",
        "bars 1h (30 days, 720 bars)": f"/api/v1/bars/SYNTH?timeframe=1h&end={end}"
                                       f"&start={end - 30 * 86_400_000}&limit=720",
        "stats 1d": "/api/v1/stats/SYNTH?period=1d",
        "stats 30d": "/api/v1/stats/SYNTH?period=30d",
    }
    port = _free_port()
    stack = Stack(database_url=url, redis_url=settings.REDIS_URL, web_port=port, env={
        "DJANGO_SETTINGS_MODULE": "bench.rest_settings", "DJANGO_DEBUG": "false",
        "API_RATE_LIMIT_ANON": "1000000000/minute", "LOG_LEVEL": "INFO"})
    base = f"http://127.0.0.1:{port}"
    try:
        _set_quotes(stack.redis_prefix)
        stack.start("web")
        stack.wait_for(lambda: _answers(base), timeout=60, what="daphne answering")
        pid = stack.procs["web"].pid
        print(f"latency: {args.samples} sequential requests per endpoint, one connection")
        latencies = asyncio.run(_latencies(base, paths, args.samples))
        print(f"throughput: {args.concurrency} connections, {args.seconds:g} s per run, "
              f"{args.rounds} rounds")
        rounds: list[dict[str, tuple]] = []
        for r in range(args.rounds):
            rounds.append({})
            for label, path in (("constant JSON", CONSTANT), ("quote", paths["quote (live cache)"]),
                                ("tickers", paths["tickers"])):
                cpu, wall = _cpu_seconds(pid), time.perf_counter()
                rate, errors = asyncio.run(_throughput(base, path, concurrency=args.concurrency,
                                                       seconds=args.seconds))
                busy = (_cpu_seconds(pid) - cpu) / (time.perf_counter() - wall)
                print(f"  round {r + 1} {label:<14} {rate:8,.0f} req/s  (daphne CPU "
                      f"{busy:.0%}, {errors} errors)")
                rounds[-1][label] = (rate, busy, errors)
        assert all(stack.alive().values()), stack.logs()
    finally:
        stack.close()
    return _report(args, data, latencies, rounds)


def _answers(base: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _report(args, data, latencies, rounds) -> int:
    ceiling = latencies["constant JSON (minimal Django view)"][0]
    rows = []
    for label, (p50, p99, size) in latencies.items():
        note = ""
        if label in TARGETS:
            verdict = "met" if p50 < TARGETS[label] else "NOT met"
            note = f"target p50 < {TARGETS[label]:g} ms: {verdict}"
        if label in SEED:
            note += f"{'; ' if note else ''}seed {SEED[label]} ms"
        rows.append([label, f"{p50:.2f}", f"{p99:.2f}", f"{p50 / ceiling:.1f}", f"{size:,}", note])
    body = table(["endpoint", "p50 ms", "p99 ms", "p50 / minimal view", "bytes", "note"], rows)
    # Each round measures the three back to back, so its ratios share the machine's load of
    # the moment; the median of the rounds' ratios is the figure (best req/s shown beside it).
    ratios = {label: statistics.median(r[label][0] / r["constant JSON"][0] for r in rounds)
              for label in rounds[0]}
    rate_rows = []
    for label in rounds[0]:
        rate = max(r[label][0] for r in rounds)
        busy = statistics.median(r[label][1] for r in rounds)
        errors = sum(r[label][2] for r in rounds)
        per_round = " ".join(f"{r[label][0] / r['constant JSON'][0]:.2f}" for r in rounds)
        note = ""
        if label == "quote":
            verdict = "met" if ratios[label] >= TARGET_QUOTE_RATIO else "NOT met"
            note = f"target >= {TARGET_QUOTE_RATIO}: {verdict}; seed {SEED['quote req/s']} req/s"
        rate_rows.append([label, f"{rate:,.0f}", f"{ratios[label]:.2f}", per_round,
                          f"{busy:.0%}", str(errors), note])
    body += "\n\n" + table(["throughput", "best req/s", "x minimal view (median)", "per round",
                            "daphne CPU", "errors", "note"], rate_rows)
    body += (
        f"\n\n{data['ticks']:,} ticks ({args.hours:g} h x 5 tickers x 10 Hz, backfilled) and "
        f"{args.bar_days} days of 1m bars (generate_series, rolled up to 5m/1h/1d) on a private "
        f"database, ANALYZEd; one daphne process. Latency: {args.samples} sequential requests "
        f"per endpoint over one keep-alive connection (aiohttp), after 10 warm-up ones. "
        f"Throughput: {args.concurrency} keep-alive connections for {args.seconds:g} s, "
        f"{args.rounds} rounds, each running the three back to back. Baseline: a minimal Django "
        "view returning a constant JSON body on the same process (same middleware). The seed's "
        "figures are the issue's, measured on this machine."
    )
    print()
    print(body)
    record("rest", body)
    met = all(latencies[k][0] < v for k, v in TARGETS.items()) and (
        ratios["quote"] >= TARGET_QUOTE_RATIO)
    print("\ntargets met" if met else "\ntargets NOT met")
    return 0
