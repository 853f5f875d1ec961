"""``manage.py demo_tickers``: create the demo tickers (idempotent; existing ones are left as
they are). Never a migration: the five seeded tickers are the seed's contract."""

from django.core.management.base import BaseCommand

from ticks.services import tickers_create_demo


class Command(BaseCommand):
    help = (
        "Create demo tickers showing the stochastic volatility model and jumps (SVJ: stochastic "
        "with jumps; SVOL: stochastic only). Running it again changes nothing."
    )

    def handle(self, *args, **options):
        for symbol, created in tickers_create_demo():
            self.stdout.write(f"{symbol}: {'created' if created else 'already there, unchanged'}")
