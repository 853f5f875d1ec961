"""System checks of the market's settings (``manage.py check``, which ``make run`` runs first
through ``migrate``): a bad ``MARKET_CALENDAR`` or ``MARKET_CLOCK_OFFSET_SECONDS`` stops the
service at start with the reason, instead of failing in the generator later."""

import math

from django.conf import settings
from django.core.checks import Error, register

from .calendars import CalendarError, check_calendar


@register()
def market_settings_check(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    code = getattr(settings, "MARKET_CALENDAR", "24/7")
    try:
        check_calendar(code)
    except CalendarError as e:
        errors.append(
            Error(
                f"MARKET_CALENDAR={code!r}: {e}",
                hint="Set MARKET_CALENDAR to 24/7 or an exchange code (README, Configuration).",
                id="ticks.E001",
            )
        )
    offset = getattr(settings, "MARKET_CLOCK_OFFSET_SECONDS", 0.0)
    if not isinstance(offset, int | float) or not math.isfinite(offset):
        errors.append(
            Error(
                f"MARKET_CLOCK_OFFSET_SECONDS={offset!r}: the market clock's offset must be a "
                "finite number of seconds",
                hint="Unset it (0: market time is wall time) or give a number such as -86400.",
                id="ticks.E002",
            )
        )
    return errors
