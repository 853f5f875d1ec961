"""``python -m bench rest``'s data: a day of backfilled ticks, 30 days of synthetic 1m bars
before them (rolled up), planner statistics, and the live quote cache as the generator leaves it.
"""

import time
from datetime import timedelta

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


def prepare(args) -> dict:
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
        analyze()
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
    analyze()
    with connection.cursor() as cursor:
        cursor.execute('SELECT count(*), min("time"), max("time") FROM ticks_tick')
        count, first, last = cursor.fetchone()
    print(
        f"  wrote {synthetic:,} 1m bars for {args.bar_days} days before them and rolled them "
        f"up in {time.perf_counter() - started:.0f} s"
    )
    return {"first": first, "last": last, "ticks": count}


def analyze() -> None:
    """Planner statistics of the freshly loaded tables, as autovacuum gathers them within a
    minute of a bulk load (without them, "newest N ticks" is planned as a sort of the window)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ticks_tick")
        cursor.execute("ANALYZE ticks_bar")


def set_quotes(prefix: str) -> None:
    """The live quote cache as the generator leaves it: each ticker's newest tick."""
    import orjson

    from ticks.market import to_ms
    from ticks.models import Tick, Ticker
    from ticks.redis_store import get_redis

    r = get_redis()
    for ticker in Ticker.objects.filter(is_active=True):
        tick = Tick.objects.filter(ticker=ticker).order_by("-time").first()
        r.hset(
            f"{prefix}:quotes",
            ticker.symbol,
            orjson.dumps(
                {
                    "ticker": ticker.symbol,
                    "price": float(tick.price),
                    "volume": tick.volume,
                    "bid": float(tick.bid),
                    "ask": float(tick.ask),
                    "timestamp": to_ms(tick.time),
                    "seq": tick.seq,
                }
            ),
        )
    r.hdel(f"{prefix}:quotes", "FINANCE")  # served from the database: the fallback's figure
