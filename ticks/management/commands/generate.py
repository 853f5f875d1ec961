"""``manage.py generate --steps N``: a one-shot advance of every active ticker."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ticks.generation import ticks_generate_steps


class Command(BaseCommand):
    help = "Advance every active ticker by up to N steps on its grid, never past now."

    def add_arguments(self, parser):
        parser.add_argument("--steps", type=int, required=True, help="steps per ticker (>= 1)")

    def handle(self, *args, **options):
        steps = options["steps"]
        if steps < 1:
            raise CommandError("--steps must be at least 1.")
        result = ticks_generate_steps(now=timezone.now(), max_steps=steps)
        per = ", ".join(f"{symbol} {n}" for symbol, n in result.per_ticker.items())
        self.stdout.write(self.style.SUCCESS(f"Generated {result.ticks} ticks ({per or 'no active tickers'})."))
