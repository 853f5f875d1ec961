"""``manage.py market_report [--tickers A,B] [--days N] [--plot FILE.png]``: the stylized facts
of each ticker's stored 1-minute data next to their target ranges (``ticks.market_report``)."""

import math
import os

from django.core.management.base import BaseCommand, CommandError

from ticks.market_report import ReportError, market_report
from ticks.market_time import market_now

from ._options import resolve_tickers

MAX_DAYS = 3650


def _days(value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        raise CommandError(f"--days must be a number of days, got {value!r}.") from None
    if not (math.isfinite(days) and 0 < days <= MAX_DAYS):
        raise CommandError(f"--days must be more than 0 and at most {MAX_DAYS}, got {value}.")
    return days


def _plot_path(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.lower().endswith(".png"):
        raise CommandError(f"--plot writes a PNG file: give a name ending in .png, not {value!r}.")
    folder = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(folder):
        raise CommandError(f"--plot: the folder {folder} does not exist.")
    return value


def _fmt(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.4g}"


class Command(BaseCommand):
    help = (
        "Stylized facts of each ticker's stored 1-minute data (volatility, fat tails, clustering, "
        "leverage, volume), each next to its target range with pass/fail."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tickers", help="comma-separated symbols (default: all active)")
        parser.add_argument("--days", default="1", help="the last N days (default 1)")
        parser.add_argument("--plot", help="also draw the figures into this PNG file")

    def handle(self, *args, **options):
        days = _days(options["days"])
        plot = _plot_path(options["plot"])
        tickers = resolve_tickers(options["tickers"])
        if not tickers:
            raise CommandError("No active tickers; name some with --tickers.")
        try:
            reports = market_report(tickers=tickers, days=days, now=market_now())
        except ReportError as exc:
            raise CommandError(str(exc)) from exc
        for report in reports:
            self.stdout.write(
                f"\n{report.symbol} ({report.model} volatility), {report.returns:,} one-minute "
                f"returns over the last {days:g} day(s)"
            )
            self.stdout.write(f"  {'measure':<40} {'value':>10}  {'target':<18} result")
            for check in report.checks:
                verdict = "pass" if check.passed else "FAIL"
                self.stdout.write(
                    f"  {check.name:<40} {_fmt(check.value):>10}  {check.target():<18} {verdict}"
                )
            passed = sum(c.passed for c in report.checks)
            self.stdout.write(f"  {passed} of {len(report.checks)} targets met")
        if plot:
            from ticks.report_plot import write_plot  # matplotlib only here, never on import

            write_plot(reports, plot)
            self.stdout.write(f"\nplot written to {plot}")
