"""``manage.py market_status [--json]``: exits 1 when the pipeline is stalled (a health check)."""

import json
import time

from django.core.management.base import BaseCommand

from ticks.market_time import market_now_ms
from ticks.status import market_status


def _age(now_ms: int, stamp: int | None) -> str:
    return "never" if stamp is None else f"{(now_ms - stamp) / 1000:.1f} s ago"


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000)) + "Z"


def _session(t) -> str:
    """``open``, or ``closed, opens 2026-11-30 14:30Z``: the ticker's session (market time)."""
    if t.calendar == "24/7":
        return "open (24/7)"
    if t.session in ("open", "pre", "post"):
        closes = f", closes {_utc(t.next_close_ms)}" if t.next_close_ms is not None else ""
        return f"{t.session} ({t.calendar}){closes}"
    opens = f", opens {_utc(t.next_open_ms)}" if t.next_open_ms is not None else ""
    return f"{t.session} ({t.calendar}){opens}"


class Command(BaseCommand):
    help = (
        "Per-ticker lag, rate and session (open, pre, post, break or closed), each "
        "generation shard's lag and worker, buffer depth, last flush and rollup, the storage "
        "layout; exit 1 when stalled."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, **options):
        status = market_status(now_ms=market_now_ms())
        if options["json"]:
            self.stdout.write(json.dumps(status.as_dict(), indent=2))
        else:
            self.stdout.write(
                f"{'ticker':<12} {'last tick':>14} {'lag':>9} {'ticks/min':>10}  session"
            )
            for t in status.tickers:
                last = (
                    "-"
                    if t.last_tick_ms is None
                    else time.strftime("%H:%M:%S", time.gmtime(t.last_tick_ms / 1000))
                    + f".{t.last_tick_ms % 1000:03d}"
                )
                lag = "-" if t.lag_ms is None else f"{t.lag_ms / 1000:.2f} s"
                flag = ("  STALLED" if t.stalled else "") + ("  STALE" if t.stale else "")
                self.stdout.write(
                    f"{t.symbol:<12} {last:>14} {lag:>9} {t.ticks_last_minute:>10}  "
                    f"{_session(t)}{flag}"
                )
            self.stdout.write(
                f"\n{'shard':<8} {'tickers':>8} {'lag':>9} {'last cycle':>12}  worker (holder now)"
            )
            for sh in status.shards:
                lag = "-" if sh.lag_ms is None else f"{sh.lag_ms / 1000:.2f} s"
                self.stdout.write(
                    f"{sh.shard:<8} {sh.tickers:>8} {lag:>9} "
                    f"{_age(status.now_ms, sh.last_cycle_ms):>12}  {sh.worker or '-'}"
                    f" ({sh.held_by or 'free'}){'  STALLED' if sh.stalled else ''}"
                )
            self.stdout.write(
                f"\nbuffer: {status.buffer_ticks} ticks in {status.buffer_entries} entries\n"
                f"last generation: {_age(status.now_ms, status.generated_at_ms)}\n"
                f"last flush: {_age(status.now_ms, status.flushed_at_ms)}\n"
                f"last rollup: {_age(status.now_ms, status.rolled_at_ms)}\n"
                f"stale after: {status.stale_after_s:g} s without a new tick "
                "(GENERATION_STALE_SECONDS)"
            )
            if status.storage:
                self.stdout.write(f"storage: {status.storage['summary']}")
        if status.stalled:
            for problem in status.problems:
                self.stderr.write(f"STALLED: {problem}")
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("pipeline OK") if not options["json"] else "")
