"""What the dashboard page needs at first paint, read through the ticks selectors.

The page then lives on ``/ws`` and the REST API; this only saves it a round of requests and lets
it show something (last stored prices, the day's open, an hour of sparkline) before they answer.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from ticks.market_clock import ALWAYS_OPEN, periods_ms
from ticks.models import Timeframe
from ticks.selectors import bars_between, daily_bars, ticker_list_with_last_tick

TIMEFRAMES = tuple(Timeframe.values)  # ("1m", "5m", "1h", "1d")
DEFAULT_TIMEFRAME = "1m"
SPARKLINE_MINUTES = 60
# A calendar ticker's open periods given to the page: enough for the longest chart (1h: 14
# days) and for the page to stay open a few days.
SESSIONS_BEHIND = timedelta(days=16)
SESSIONS_AHEAD = timedelta(days=5)
MAX_SYMBOL_SHOWN = 40  # an unknown symbol from the URL is echoed back, cut to this length


@dataclass
class DashboardState:
    tickers: list[dict]
    selected: str | None
    unknown_ticker: str | None
    timeframe: str
    day_open: dict[str, float] = field(default_factory=dict)
    sparklines: dict[str, list[list[float]]] = field(default_factory=dict)
    # "XNYS" or "XNYS+ext" -> its open periods (``ticks.market_clock.periods_ms``)
    sessions: dict[str, list[list[int]]] = field(default_factory=dict)

    @property
    def has_prices(self) -> bool:
        return any(t["last_price"] is not None for t in self.tickers)


def _epoch_ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def dashboard_state(*, ticker: str, timeframe: str, now: datetime) -> DashboardState:
    """``ticker`` and ``timeframe`` as given in the URL (blank: the defaults)."""
    wanted = ticker.strip().upper()
    timeframe = timeframe if timeframe in TIMEFRAMES else DEFAULT_TIMEFRAME
    rows = []
    selected = unknown = None
    known = []  # (id, symbol, calendar): whose day opens are read
    sessions: dict[str, list[list[int]]] = {}
    now_ms = int(now.timestamp() * 1000)
    for t in ticker_list_with_last_tick().order_by("symbol"):
        known.append((t.pk, t.symbol, t.calendar))
        if t.symbol == wanted:
            selected = t.symbol
        elif not t.is_active:
            continue  # inactive tickers are listed only when asked for by name
        session = _sessions_key(t.calendar, t.extended_hours)
        if session is not None and session not in sessions:
            sessions[session] = periods_ms(
                t.calendar,
                extended_hours=t.extended_hours,
                start_ms=now_ms - int(SESSIONS_BEHIND.total_seconds() * 1000),
                end_ms=now_ms + int(SESSIONS_AHEAD.total_seconds() * 1000),
            )
        rows.append(
            {
                "ticker": t.symbol,
                "calendar": t.calendar,
                "session": session,
                "name": t.name,
                "sector": t.sector,
                "active": t.is_active,
                "tick_rate": 1000 / t.tick_interval_ms,
                "last_price": float(t.last_price) if t.last_price is not None else None,
                "last_time": _epoch_ms(t.last_tick_time),
            }
        )
    if wanted and selected is None:
        unknown = wanted[:MAX_SYMBOL_SHOWN]
    elif not wanted and rows:
        default = settings.DASHBOARD_DEFAULT_TICKER.strip().upper()
        selected = next((r["ticker"] for r in rows if r["ticker"] == default), rows[0]["ticker"])

    day_open = {b.ticker: float(b.open) for b in daily_bars(at=now, tickers=known)}
    spark_start = now.replace(second=0, microsecond=0) - timedelta(minutes=SPARKLINE_MINUTES)
    sparklines: dict[str, list[list[float]]] = {}
    for bar in bars_between(timeframe="1m", start=spark_start, end=now + timedelta(minutes=1)):
        sparklines.setdefault(bar.ticker, []).append([bar.time_ms, float(bar.close)])
    return DashboardState(
        tickers=rows,
        selected=selected,
        unknown_ticker=unknown,
        timeframe=timeframe,
        day_open=day_open,
        sparklines=sparklines,
        sessions=sessions,
    )


def _sessions_key(calendar: str, extended_hours: bool) -> str | None:
    """Which open periods a ticker trades (None: around the clock)."""
    if calendar == ALWAYS_OPEN:
        return None
    return f"{calendar}+ext" if extended_hours else calendar
