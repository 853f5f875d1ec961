"""The Alpaca dialect under ``/v2/``: Market Data v2 stock endpoints and the Trading-API reads
that data clients call, in Alpaca's shapes (README, "Use it with alpaca-py"). Thin views:
parameters from ``api.alpaca.inputs``, data and shapes from ``ticks.alpaca_reads`` and
``ticks.alpaca_trading``, errors from ``api.alpaca.errors``.

Shapes: multi-symbol ``{"bars": {"SYM": [...]}, "next_page_token": ...}`` (symbols in order),
single-symbol ``{"bars": [...], "symbol": "SYM", "next_page_token": ...}``; latest
``{"trades": {"SYM": {...}}}`` / ``{"symbol": "SYM", "trade": {...}}``; snapshots unwrapped
(``{"SYM": {...}}`` / ``{"symbol": "SYM", ...}``).
"""

from datetime import date

import orjson
from asgiref.sync import sync_to_async
from rest_framework.response import Response

from api.base import ApiView, now
from api.fast import HotReadApi, prefetched_records, symbol_prefetch, without_blocking
from api.negotiation import JsonOnly
from api.renderers import ORJSONRenderer
from ticks import alpaca_reads, alpaca_trading
from ticks.market_time import market_now
from ticks.series_reads import alatest_ticks

from . import inputs
from .authentication import KeyPairAuthentication
from .errors import exception_handler, invalid, not_found
from .paging import decode_token, encode_token

MAX_CALENDAR_DAYS = 3660


class AlpacaView(ApiView):
    schema = None  # Alpaca's API, documented by Alpaca and the README: not in our OpenAPI schema
    http_method_names = ["get", "head"]
    authentication_classes = [KeyPairAuthentication]
    renderer_classes = [ORJSONRenderer]
    content_negotiation_class = JsonOnly

    def get_exception_handler(self):
        return exception_handler


# --- historical series -----------------------------------------------------------------------------


class SeriesApi(AlpacaView):
    """Bars, trades or quotes of several symbols (``?symbols=``) or of the one in the path."""

    kind: str  # "bars", "trades", "quotes"

    def read(self, tickers, window, params):
        raise NotImplementedError

    def get(self, request, symbol: str | None = None):
        params = request.query_params
        tickers = [inputs.ticker(symbol)] if symbol is not None else inputs.symbols_param(params)
        frame = inputs.timeframe_param(params) if self.kind == "bars" else None
        inputs.series_params(params)
        start, end = inputs.window_params(params, now=now())
        window = alpaca_reads.PageWindow(
            start=start,
            end=end,
            limit=inputs.limit_param(params),
            descending=inputs.sort_param(params),
            after=decode_token(params.get("page_token"), {t.symbol for t in tickers}),
        )
        page = self.read(tickers, window, frame)
        token = encode_token(page.next)
        if symbol is not None:
            rows = page.rows.get(tickers[0].symbol, b"[]")
            return Response(
                {
                    self.kind: orjson.Fragment(rows),
                    "symbol": tickers[0].symbol,
                    "next_page_token": token,
                }
            )
        data = {name: orjson.Fragment(rows) for name, rows in page.rows.items()}
        return Response({self.kind: data, "next_page_token": token})


class BarsApi(SeriesApi):
    kind = "bars"

    def read(self, tickers, window, frame):
        return alpaca_reads.bars_page(tickers=tickers, frame=frame, window=window)


class TradesApi(SeriesApi):
    kind = "trades"

    def read(self, tickers, window, frame):
        return alpaca_reads.trades_page(tickers=tickers, window=window)


class QuotesApi(SeriesApi):
    kind = "quotes"

    def read(self, tickers, window, frame):
        return alpaca_reads.quotes_page(tickers=tickers, window=window)


# --- latest and snapshots ---------------------------------------------------------------------------


class LatestApi(AlpacaView, HotReadApi):
    """The latest trade, quote or minute bar of each symbol (``{"trades": {...}}``), or of the
    one in the path (``{"symbol": ..., "trade": {...}}``). Trades and quotes are hot reads
    (``api.hot``): the live records, read on the loop."""

    kind: str  # "trades", "quotes", "bars"

    def tickers(self, request, symbol: str | None):
        params = request.query_params
        tickers = [inputs.ticker(symbol)] if symbol is not None else inputs.symbols_param(params)
        inputs.common_params(params)
        return tickers

    def shaped(self, tickers, ticks) -> dict[str, dict]:
        if self.kind == "trades":
            return alpaca_reads.latest_trades_from(ticks)
        return alpaca_reads.latest_quotes_from(tickers, ticks)

    async def fetch(self, request, symbol: str | None = None):
        tickers = await without_blocking(self.tickers, request, symbol)
        if self.kind == "bars":
            return tickers, await sync_to_async(alpaca_reads.latest_bars)(tickers)
        ticks = await alatest_ticks(
            tickers, client=self.redis_client, prefetched=prefetched_records(request, tickers)
        )
        return tickers, self.shaped(tickers, ticks)

    def fetch_sync(self, request, symbol: str | None = None):
        tickers = self.tickers(request, symbol)
        if self.kind == "bars":
            return tickers, alpaca_reads.latest_bars(tickers)
        return tickers, self.shaped(tickers, alpaca_reads.latest_ticks(tickers))

    def answer(self, request, fetched, symbol: str | None = None):
        tickers, latest = fetched
        if symbol is None:
            return Response({self.kind: latest})
        name = tickers[0].symbol
        if name not in latest:
            raise not_found(f"no {self.kind} for {name} yet")
        return Response({"symbol": name, self.kind[:-1]: latest[name]})


class LatestTradesApi(LatestApi):
    kind = "trades"
    throttle_prefetch = symbol_prefetch("symbol")


class LatestQuotesApi(LatestApi):
    kind = "quotes"
    throttle_prefetch = symbol_prefetch("symbol")


class LatestBarsApi(LatestApi):
    kind = "bars"


class SnapshotsApi(AlpacaView):
    """Latest trade and quote, minute bar, daily bar and the previous daily bar."""

    def get(self, request, symbol: str | None = None):
        params = request.query_params
        tickers = [inputs.ticker(symbol)] if symbol is not None else inputs.symbols_param(params)
        inputs.common_params(params)
        snapshots = alpaca_reads.snapshots(tickers)
        if symbol is None:
            return Response(snapshots)
        name = tickers[0].symbol
        return Response({"symbol": name, **snapshots[name]})


# --- Trading-API reads ------------------------------------------------------------------------------


class ClockApi(AlpacaView):
    def get(self, request):
        return Response(alpaca_trading.clock(now=market_now()))


class CalendarApi(AlpacaView):
    """Trading days from ``start`` to ``end`` (dates, both included). Without them: the
    calendar year of the other one, or the current year."""

    def get(self, request):
        params = request.query_params
        days = {}
        for name in ("start", "end"):
            raw = params.get(name)
            if raw is not None:
                moment = inputs.parse_time(raw)
                if moment is None:
                    raise invalid(f"invalid {name}: a date (2024-01-15) or an RFC 3339 time")
                days[name] = moment.date()
        year = market_now().year
        start = days.get("start") or date(days["end"].year if "end" in days else year, 1, 1)
        end = days.get("end") or date(start.year, 12, 31)
        if end < start:
            raise invalid("end should not be before start")
        if (end - start).days >= MAX_CALENDAR_DAYS:
            raise invalid(f"the range is larger than {MAX_CALENDAR_DAYS} days: ask for less")
        date_type = params.get("date_type")
        if date_type is not None and date_type not in ("TRADING", "SETTLEMENT"):
            raise invalid("invalid date_type: must be one of TRADING, SETTLEMENT")
        return Response(alpaca_trading.calendar(start=start, end=end))


class AssetListApi(AlpacaView):
    def get(self, request):
        params = request.query_params
        status = params.get("status")
        if status is not None and status not in ("active", "inactive"):
            raise invalid("invalid status: must be one of active, inactive")
        return Response(
            alpaca_trading.asset_list(
                status=status,
                asset_class=params.get("asset_class"),
                exchange=params.get("exchange"),
            )
        )


class AssetDetailApi(AlpacaView):
    def get(self, request, symbol_or_id: str):
        asset = alpaca_trading.asset_get(symbol_or_id[:64])
        if asset is None:
            raise not_found("asset not found")
        return Response(asset)
