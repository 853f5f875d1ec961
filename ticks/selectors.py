"""Reads. Views, admin and consumers fetch data through these, never with their own queries."""

from django.db.models import OuterRef, QuerySet, Subquery

from .models import Bar, Tick, Ticker


def ticker_list_with_last_tick() -> QuerySet[Ticker]:
    """Tickers annotated with ``last_price`` and ``last_tick_time`` (None before any tick)."""
    latest = Tick.objects.filter(ticker=OuterRef("pk")).order_by("-time")
    return Ticker.objects.annotate(
        last_price=Subquery(latest.values("price")[:1]),
        last_tick_time=Subquery(latest.values("time")[:1]),
    )


def tick_recent(*, ticker: Ticker, limit: int = 10) -> list[Tick]:
    """The ticker's newest ``limit`` ticks, newest first."""
    return list(Tick.objects.filter(ticker=ticker).order_by("-time")[:limit])


def bar_recent(*, ticker: Ticker, timeframe: str, limit: int = 10) -> list[Bar]:
    """The ticker's newest ``limit`` bars of ``timeframe``, newest first."""
    return list(Bar.objects.filter(ticker=ticker, timeframe=timeframe).order_by("-time")[:limit])


def bar_rows_between(*, timeframe: str, start, end) -> list[dict]:
    """Bars of every ticker with ``start <= time < end``, shaped as the WebSocket ``bar`` data
    (numbers as numbers, ``time`` in epoch milliseconds)."""
    rows = (Bar.objects.filter(timeframe=timeframe, time__gte=start, time__lt=end)
            .select_related(None).values_list("ticker__symbol", "time", "open", "high", "low",
                                              "close", "volume", "trade_count", "vwap")
            .order_by("ticker__symbol", "time"))
    return [
        {"ticker": symbol, "timeframe": timeframe, "time": int(t.timestamp() * 1000),
         "open": float(o), "high": float(h), "low": float(low), "close": float(c),
         "volume": int(v), "trade_count": int(n), "vwap": float(w)}
        for symbol, t, o, h, low, c, v, n, w in rows
    ]
