"""The five tickers of the service's first version, with their documented parameters and bounds.

Their random seeds are fixed so that every installation replays the same market paths.
"""

from decimal import Decimal

from django.db import migrations

SEED_TICKERS = [
    # symbol, name, sector, start, drift, volatility, min, max, seed
    ("SYNTH", "Synthetic Corp", "Technology", "150", 0.05, 0.20, "10", "1000", 1001),
    ("TECH", "Tech Innovations", "Technology", "320", 0.08, 0.30, "50", "2000", 1002),
    ("FINANCE", "Finance Holdings", "Finance", "85", 0.03, 0.15, "20", "500", 1003),
    ("ENERGY", "Energy Solutions", "Energy", "65", 0.02, 0.25, "10", "300", 1004),
    ("HEALTH", "Healthcare Partners", "Healthcare", "180", 0.06, 0.18, "30", "800", 1005),
]


def add_tickers(apps, schema_editor):
    Ticker = apps.get_model("ticks", "Ticker")
    for symbol, name, sector, start, drift, vol, low, high, seed in SEED_TICKERS:
        Ticker.objects.get_or_create(
            symbol=symbol,
            defaults={
                "name": name,
                "sector": sector,
                "start_price": Decimal(start),
                "drift": drift,
                "volatility": vol,
                "min_price": Decimal(low),
                "max_price": Decimal(high),
                "tick_interval_ms": 100,
                "is_active": True,
                "seed": seed,
            },
        )


def remove_tickers(apps, schema_editor):
    Ticker = apps.get_model("ticks", "Ticker")
    Ticker.objects.filter(symbol__in=[row[0] for row in SEED_TICKERS]).delete()


class Migration(migrations.Migration):
    dependencies = [("ticks", "0001_initial")]

    operations = [migrations.RunPython(add_tickers, remove_tickers)]
