"""``manage.py backfill --days N | --hours N [--tickers A,B] [--end ISO]``"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ticks.backfill import (
    BackfillError,
    history_window,
    plan_backfill,
    rollup_range,
    write_plan,
)
from ticks.market_time import market_now

from ._options import parse_end, resolve_tickers


class Command(BaseCommand):
    help = (
        "Fill history before each ticker's earliest tick: [end - N, min(end, earliest tick)), "
        "generated backwards so it joins the existing ticks. Safe to interrupt and re-run."
    )

    def add_arguments(self, parser):
        span = parser.add_mutually_exclusive_group(required=True)
        span.add_argument("--days", type=float, help="length of the range in days")
        span.add_argument("--hours", type=float, help="length of the range in hours")
        parser.add_argument("--tickers", help="comma-separated symbols (default: all active)")
        parser.add_argument(
            "--end", help="end of the range, ISO 8601 (default: now, in market time)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, **options):
        length = options["days"] if options["days"] is not None else options["hours"]
        if length is None or not length > 0:
            raise CommandError("--days/--hours must be a positive number.")
        duration = (
            timedelta(days=length) if options["days"] is not None else timedelta(hours=length)
        )
        end = parse_end(options["end"]) or market_now()
        tickers = resolve_tickers(options["tickers"])
        try:
            plan = plan_backfill(tickers=tickers, duration=duration, end=end)
        except BackfillError as exc:
            raise CommandError(str(exc)) from exc
        if plan.total == 0:
            self.stdout.write("Nothing to backfill: the range is already filled.")
            return
        quiet = options["no_progress"]
        hours = max(1, int((max(plan.state.time_ms) / 1000 - plan.start.timestamp()) // 3600) + 1)
        with history_window(plan):
            with tqdm(
                total=plan.total, unit="tick", unit_scale=True, desc="ticks", disable=quiet
            ) as bar:
                written = write_plan(plan, on_progress=bar.update)
            with tqdm(total=hours, unit="h", desc="bars", disable=quiet) as bar:
                bars = rollup_range(plan, on_progress=bar.update)
        per = ", ".join(f"{t.symbol} {n:,}" for t, n in zip(plan.tickers, plan.steps) if n)
        self.stdout.write(
            self.style.SUCCESS(
                f"Backfilled {written:,} ticks from {plan.start.isoformat()} ({per}); "
                f"bars upserted: {bars}"
            )
        )
