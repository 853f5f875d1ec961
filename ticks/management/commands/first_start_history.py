"""``manage.py first_start_history [--check] [--days N]``: the history a first start fills in the
background (``ticks.first_start``). ``--check`` only says whether one is needed (exit 0: yes, no
tick is stored yet; exit 3: no)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ticks.first_start import history_fill, history_needed

NOT_NEEDED = 3


class Command(BaseCommand):
    help = (
        "Fill FIRST_START_HISTORY_DAYS of history behind the live market once its first "
        "ticks are stored (what `make run` does on a first start)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="exit 0 if no tick is stored yet (a first start), 3 otherwise",
        )
        parser.add_argument(
            "--days",
            type=float,
            default=None,
            help="days of history (default: FIRST_START_HISTORY_DAYS)",
        )

    def handle(self, *args, **options):
        days = settings.FIRST_START_HISTORY_DAYS if options["days"] is None else options["days"]
        if days < 0:
            raise CommandError("--days must be 0 (off) or more.")
        if options["check"]:
            needed = days > 0 and history_needed()
            self.stdout.write("first-start history: " + ("needed" if needed else "not needed"))
            raise SystemExit(0 if needed else NOT_NEEDED)
        report = history_fill(days=days)
        if report.skipped:
            self.stdout.write(f"first-start history skipped: {report.skipped}")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"first-start history: {report.ticks:,} ticks in {report.seconds:.0f} s"
                )
            )
