"""The Massive (formerly Polygon.io) dialect: stock aggregates, trades, quotes, last trade and
quote, snapshots, market status and ticker reference, in Massive's shapes (README, "Use it with
the Massive (Polygon) client"). Thin views: parameters from ``api.massive.inputs``, data and
shapes from ``ticks.massive_reads`` and ``ticks.massive_reference``, errors from
``api.massive.errors``, pages from ``api.massive.paging``.

Every answer but the market status carries ``status`` (``OK``) and ``request_id`` (the
request's ``X-Request-ID``).
"""

import orjson
from rest_framework.response import Response

from api.base import ApiView
from api.directory import directory
from api.fast import HotReadApi, prefetched_records, symbol_prefetch, without_blocking
from api.negotiation import JsonOnly
from api.renderers import ORJSONRenderer
from ticks import massive_reads, massive_reference
from ticks.market_time import market_now
from ticks.series_reads import PageWindow, alatest_ticks, latest_ticks

from . import inputs
from .authentication import MassiveKeyAuthentication
from .errors import exception_handler, not_found, request_id
from .paging import decode_cursor, next_url


class MassiveView(ApiView):
    schema = None  # Massive's API, documented by Massive and the README: not in our OpenAPI schema
    http_method_names = ["get", "head"]
    authentication_classes = [MassiveKeyAuthentication]
    renderer_classes = [ORJSONRenderer]
    content_negotiation_class = JsonOnly

    def get_exception_handler(self):
        return exception_handler

    def ok(self, request, **fields) -> Response:
        return Response({**fields, "status": "OK", "request_id": request_id(request)})


# --- aggregates -----------------------------------------------------------------------------------


class AggregatesApi(MassiveView):
    """``/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}``."""

    def get(self, request, ticker, multiplier, timespan, start, end):
        params = request.query_params
        info = inputs.ticker(ticker)
        frame, base = inputs.frame_params(multiplier, timespan)
        lo = inputs.agg_time(start, "from", end=False)
        hi = inputs.agg_time(end, "to", end=True)
        adjusted = inputs.bool_param(params, "adjusted", True)
        descending = inputs.choice(params, "sort", ("asc", "desc"), "asc") == "desc"
        limit = inputs.limit_param(params, default=inputs.AGG_LIMIT)
        after = decode_cursor(params)
        window = PageWindow(
            start=lo,
            end=hi,
            limit=max(1, limit // base),
            descending=descending,
            after=None if after is None else (info.symbol, after),
        )
        page = massive_reads.aggregates_page(ticker=info, frame=frame, window=window)
        fields = {"ticker": info.symbol, "queryCount": page.sources, "resultsCount": page.count}
        fields["adjusted"] = adjusted
        if page.count:
            fields["results"] = orjson.Fragment(page.rows[info.symbol])
        return self.ok(request, **fields, **next_url(request, page.next and page.next[1]))


class PreviousCloseApi(MassiveView):
    """``/v2/aggs/ticker/{ticker}/prev``: the previous trading day's bar."""

    def get(self, request, ticker):
        info = inputs.ticker(ticker)
        adjusted = inputs.bool_param(request.query_params, "adjusted", True)
        results = massive_reads.previous_close(ticker=info, now=market_now())
        return self.ok(
            request,
            ticker=info.symbol,
            queryCount=len(results),
            resultsCount=len(results),
            adjusted=adjusted,
            results=results,
        )


class GroupedDailyApi(MassiveView):
    """``/v2/aggs/grouped/locale/us/market/stocks/{date}``: every ticker's bar of the day."""

    def get(self, request, day):
        when = inputs.day_param(day)
        adjusted = inputs.bool_param(request.query_params, "adjusted", True)
        inputs.bool_param(request.query_params, "include_otc", False)
        results = massive_reads.grouped_daily(tickers=_all_tickers(), day=when)
        fields = {"queryCount": len(results), "resultsCount": len(results), "adjusted": adjusted}
        if results:
            fields["results"] = results
        return self.ok(request, **fields)


def _all_tickers():
    return sorted(directory.all(), key=lambda t: t.symbol)


# --- trades and quotes ----------------------------------------------------------------------------


class TicksApi(MassiveView):
    """``/v3/trades/{ticker}`` or ``/v3/quotes/{ticker}``: one per stored tick."""

    read = None

    def get(self, request, ticker):
        params = request.query_params
        info = inputs.ticker(ticker)
        start, end = inputs.timestamp_window(params)
        descending = inputs.choice(params, "order", ("asc", "desc"), "desc") == "desc"
        inputs.choice(params, "sort", ("timestamp",))
        after = decode_cursor(params)
        window = PageWindow(
            start=start,
            end=end,
            limit=inputs.limit_param(params, default=inputs.TICK_LIMIT),
            descending=descending,
            after=None if after is None else (info.symbol, after),
        )
        rows, _, after = type(self).read(ticker=info, window=window)
        return self.ok(request, results=orjson.Fragment(rows), **next_url(request, after))


class TradesApi(TicksApi):
    read = massive_reads.trades_page


class QuotesApi(TicksApi):
    read = massive_reads.quotes_page


class LastApi(MassiveView, HotReadApi):
    """The latest trade or quote of a ticker: hot reads (``api.hot``), from the live record."""

    throttle_prefetch = symbol_prefetch("ticker")
    kind: str  # "trades", "quotes"

    async def fetch(self, request, ticker):
        info = await without_blocking(inputs.ticker, ticker)
        ticks = await alatest_ticks(
            [info], client=self.redis_client, prefetched=prefetched_records(request, [info])
        )
        return info, ticks.get(info.symbol)

    def fetch_sync(self, request, ticker):
        info = inputs.ticker(ticker)
        return info, latest_ticks([info]).get(info.symbol)

    def answer(self, request, fetched, ticker):
        info, tick = fetched
        if self.kind == "trades":
            result = massive_reads.last_trade_from(tick)
        else:
            result = massive_reads.last_quote_from(info, tick)
        if result is None:
            raise not_found(f"no {self.kind} for {info.symbol} yet")
        return self.ok(request, results=result)


class LastTradeApi(LastApi):
    """``/v2/last/trade/{ticker}``."""

    kind = "trades"


class LastQuoteApi(LastApi):
    """``/v2/last/nbbo/{ticker}``."""

    kind = "quotes"


# --- snapshots, market status, reference ----------------------------------------------------------


class SnapshotsApi(MassiveView):
    """``/v2/snapshot/locale/us/markets/stocks/tickers[?tickers=A,B]``: the tickers named (the
    unknown ones left out, as Massive does), or every active one."""

    def get(self, request):
        params = request.query_params
        inputs.bool_param(params, "include_otc", False)
        raw = params.get("tickers")
        if raw:
            names = sorted({n.strip().upper() for n in raw.split(",") if n.strip()})
            infos = [info for n in names[:1000] if (info := directory.get(n)) is not None]
        else:
            infos = [t for t in _all_tickers() if t.is_active]
        snaps = massive_reads.snapshots(infos)
        return self.ok(request, count=len(snaps), tickers=snaps)


class SnapshotApi(MassiveView):
    """``/v2/snapshot/locale/us/markets/stocks/tickers/{ticker}``."""

    def get(self, request, ticker):
        info = inputs.ticker(ticker)
        return self.ok(request, ticker=massive_reads.snapshots([info])[0])


class MarketStatusApi(MassiveView):
    """``/v1/marketstatus/now`` (Massive's answer has no ``status``/``request_id``)."""

    def get(self, request):
        return Response(massive_reads.market_status(now=market_now()))


class TickerListApi(MassiveView):
    """``/v3/reference/tickers``: ``limit`` 1 to 1,000 (default 100) per page."""

    def get(self, request):
        params = request.query_params
        bounds = {}
        for suffix in ("", ".gt", ".gte", ".lt", ".lte"):
            raw = params.get(f"ticker{suffix}")
            if raw is not None:
                bounds["ticker" + suffix.replace(".", "_")] = raw.strip().upper()
        wanted = massive_reference.TickerFilter(
            **bounds,
            type=params.get("type") or None,
            market=params.get("market") or None,
            exchange=params.get("exchange") or None,
            active=inputs.bool_param(params, "active", True),
            search=(params.get("search") or "")[:100] or None,
            sort=inputs.choice(params, "sort", massive_reference.SORTS, "ticker"),
            descending=inputs.choice(params, "order", ("asc", "desc"), "asc") == "desc",
        )
        limit = inputs.limit_param(params, default=100, maximum=1000)
        offset = decode_cursor(params) or 0
        if offset < 0:
            offset = 0
        rows = massive_reference.ticker_list(directory.all(), wanted)
        page = rows[offset : offset + limit]
        more = offset + limit if offset + limit < len(rows) else None
        return self.ok(request, results=page, count=len(page), **next_url(request, more))


class TickerDetailApi(MassiveView):
    """``/v3/reference/tickers/{ticker}``."""

    def get(self, request, ticker):
        info = inputs.ticker(ticker)
        return self.ok(request, results=massive_reference.ticker_details(info))
