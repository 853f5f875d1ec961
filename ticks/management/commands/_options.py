"""Parsing helpers shared by the market's management commands."""

from datetime import UTC, datetime

from django.core.management.base import CommandError
from django.utils.dateparse import parse_datetime

from ticks.models import Ticker


def parse_end(value: str | None) -> datetime | None:
    """An ISO 8601 instant (naive means UTC) or None."""
    if value is None:
        return None
    parsed = parse_datetime(value.strip().replace("Z", "+00:00")) if value.strip() else None
    if parsed is None:
        raise CommandError(
            f"--end {value!r} is not an ISO 8601 date-time (e.g. 2026-11-28T12:00Z)."
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def resolve_tickers(value: str | None, *, active_only: bool = True) -> list[Ticker]:
    """``A,B`` (case-insensitive) -> tickers; None -> every active ticker. Unknown symbols are
    an error naming them, and nothing is done."""
    if value is None:
        tickers = Ticker.objects.filter(is_active=True) if active_only else Ticker.objects.all()
        return list(tickers.order_by("symbol"))
    symbols = [s.strip().upper() for s in value.split(",") if s.strip()]
    if not symbols:
        raise CommandError("--tickers needs at least one symbol, e.g. --tickers SYNTH,TECH")
    found = {t.symbol: t for t in Ticker.objects.filter(symbol__in=symbols)}
    missing = [s for s in symbols if s not in found]
    if missing:
        raise CommandError(f"Unknown ticker(s): {', '.join(missing)}")
    return [found[s] for s in dict.fromkeys(symbols)]
