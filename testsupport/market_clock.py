"""Moving the market clock in tests: ``MARKET_CLOCK_OFFSET_SECONDS`` set so that market time
(``ticks.market_time``) is ``moment`` now and runs on from it at the wall clock's pace."""

from datetime import UTC, datetime


def offset_to(moment: datetime) -> float:
    """The ``MARKET_CLOCK_OFFSET_SECONDS`` that puts market time at ``moment`` now."""
    return (moment - datetime.now(UTC)).total_seconds()


def market_at(settings, moment: datetime) -> None:
    """Set (pytest-django's ``settings`` fixture) the market clock to ``moment``."""
    settings.MARKET_CLOCK_OFFSET_SECONDS = offset_to(moment)
