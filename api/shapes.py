"""Response shapes (names pinned for clients, README "REST API"): prices as two-decimal strings, times as ISO 8601
UTC with milliseconds and ``Z``."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from ticks.market import from_ms

CENT = Decimal("0.01")
QUOTE_FIELDS = ["time", "ticker", "price", "volume", "bid", "ask", "seq"]
BAR_FIELDS = [
    "time",
    "ticker",
    "timeframe",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trade_count",
    "vwap",
]


def iso_ms(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def iso_from_ms(ms: int) -> str:
    return iso_ms(from_ms(ms))


def price(value) -> str | None:
    """A price as a string with two decimals ("152.30"); None stays None."""
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN))


def ticker_out(info) -> dict:
    return {
        "ticker": info.symbol,
        "name": info.name,
        "sector": info.sector,
        "initial_price": price(info.start_price),
        "drift": info.drift,
        "volatility": info.volatility,
        "min_price": price(info.min_price),
        "max_price": price(info.max_price),
        "active": info.is_active,
        "tick_rate": round(1000 / info.tick_interval_ms, 6),
    }


def quote_from_row(symbol: str, row: tuple) -> dict:
    """``ticks.selectors.tick_latest``'s row as a quote-shaped dict."""
    _, iso, p, v, b, a, seq = row
    return {"time": iso, "ticker": symbol, "price": p, "volume": v, "bid": b, "ask": a, "seq": seq}


def quote_from_live(payload: dict) -> dict:
    """The live quote cache's entry (numbers, epoch ms) in the REST shape."""
    return {
        "time": iso_from_ms(int(payload["timestamp"])),
        "ticker": payload["ticker"],
        "price": price(float(payload["price"])),
        "volume": int(payload["volume"]),
        "bid": price(float(payload["bid"])),
        "ask": price(float(payload["ask"])),
        "seq": int(payload["seq"]),
    }
