"""Tickers' trading status: a ticker deactivated (in the admin, the shell or a service) is halted,
activated again it is trading. The change is announced once the transaction commits
(``ticks.announce.announce_statuses``), whichever way the ticker was changed: a bulk update
through ``ticks.services.tickers_set_active`` or a save of the model (``ticks.signals``).

The stream's Alpaca dialect turns each into a trading status message (``T: "s"``,
``ticks.alpaca_shapes.trading_status_fields``); halts (scenario events) are announced by the
generator when it reaches them (``ticks.event_cycle``), through the same announcement.
"""

from collections.abc import Iterable

from django.db import transaction

from . import announce
from .market_time import market_now_ms
from .payloads import STATUS_HALTED, STATUS_TRADING, StatusPayload

REASONS = {True: "ticker activated", False: "ticker deactivated"}


def status_of(active: bool) -> str:
    return STATUS_TRADING if active else STATUS_HALTED


def statuses_announce_on_commit(*, changes: Iterable[tuple[str, bool]]) -> None:
    """Announce ``(symbol, now active)`` changes when the current transaction commits (at once
    outside one), stamped with the commit's time."""
    changes = list(changes)
    if not changes:
        return

    def committed() -> None:
        now_ms = market_now_ms()
        announce.announce_statuses(
            [
                StatusPayload(symbol, status_of(active), now_ms, REASONS[active])
                for symbol, active in changes
            ]
        )

    transaction.on_commit(committed)
