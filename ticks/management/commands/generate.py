"""``manage.py generate --steps N``: a one-shot advance of every active ticker."""

from django.core.management.base import BaseCommand, CommandError

from ticks.generation import ticks_generate_steps
from ticks.market_time import market_now
from ticks.status import live_generation_running


class Command(BaseCommand):
    help = "Advance every active ticker by up to N steps on its grid, never past now."

    def add_arguments(self, parser):
        parser.add_argument("--steps", type=int, required=True, help="steps per ticker (>= 1)")

    def handle(self, *args, **options):
        steps = options["steps"]
        if steps < 1:
            raise CommandError("--steps must be at least 1.")
        if live_generation_running():
            raise CommandError(
                "The live pipeline is generating (a generation cycle ran in the last few "
                "seconds); stop it first: `generate` writes the same grid points directly."
            )
        result = ticks_generate_steps(now=market_now(), max_steps=steps)
        per = ", ".join(f"{symbol} {n}" for symbol, n in result.per_ticker.items())
        self.stdout.write(
            self.style.SUCCESS(f"Generated {result.ticks} ticks ({per or 'no active tickers'}).")
        )
