"""REST API v1: one thin view per operation. Input is validated by the serializers of
``api.inputs``, data comes from ``api.selectors``, every answer is the envelope
``{"success": true, "data": ..., "meta": {...}}`` (errors: ``api.errors``)."""

from asgiref.sync import sync_to_async
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response

from ticks.live_reads import quote_location

from . import schema, selectors
from .base import ApiView, now, ok, ticker_or_404
from .directory import TickerInfo, directory
from .fast import AsyncReadApi, HotReadApi
from .inputs import BarsInput, HistoryInput, StatsInput
from .paging import link_header, page_meta
from .renderers import CSVRenderer, ORJSONRenderer, csv_response, json_rows
from .shapes import BAR_FIELDS, QUOTE_FIELDS, ticker_out


class ApiRootApi(ApiView):
    """The endpoints of the API."""

    @extend_schema(**schema.ROOT)
    def get(self, request):
        names = ("tickers", "time", "schema", "docs")
        links = {name: request.build_absolute_uri(reverse(f"api:{name}")) for name in names}
        for name in ("quote", "history", "bars", "stats"):
            links[name] = request.build_absolute_uri(reverse(f"api:{name}", args=["SYNTH"]))
        return Response(ok(links))


def tickers_response(infos: list[TickerInfo]) -> Response:
    tickers = [ticker_out(info) for info in infos]
    return Response(ok(tickers, {"count": len(tickers)}))


class TickerListApi(AsyncReadApi):
    """Every ticker with its price-process parameters."""

    @extend_schema(**schema.TICKERS)
    async def get(self, request):
        infos = directory.cached_all()
        if infos is None:
            infos = await sync_to_async(directory.all)()
        return tickers_response(infos)

    def get_sync(self, request):
        return tickers_response(directory.all())


class QuoteDetailApi(HotReadApi):
    """The latest quote of a ticker (from the live feed; the newest stored tick as fallback)."""

    @staticmethod
    def throttle_prefetch(request, view):
        """The live quote, read in the rate limiter's Redis round trip (one instead of two)."""
        return quote_location(view.kwargs.get("ticker", "").strip().upper())

    @extend_schema(**schema.QUOTE)
    async def get(self, request, ticker: str):
        return await super().get(request, ticker)

    async def fetch(self, request, ticker: str):
        info = await self.ticker_or_404(ticker)
        quote, source = await selectors.quote_get_async(
            ticker=info,
            client=self.redis_client,
            prefetched=getattr(request, "prefetched", selectors.NOT_FETCHED),
        )
        return info, quote, source

    def fetch_sync(self, request, ticker: str):
        info = ticker_or_404(ticker)
        prefetched = getattr(request, "prefetched", selectors.NOT_FETCHED)
        return (info, *selectors.quote_get(ticker=info, prefetched=prefetched))

    def answer(self, request, fetched, ticker: str):
        info, quote, source = fetched
        return Response(
            ok(quote, selectors.quote_meta(ticker=info, quote=quote, source=source, now=now()))
        )


class PagedApi(ApiView):
    renderer_classes = [ORJSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    input_class: type
    csv_columns: list[str]

    @staticmethod
    def row_format(request) -> str:
        """What the page's rows are fetched as: CSV lines or JSON objects."""
        return "csv" if request.accepted_renderer.format == "csv" else "json"

    def respond(self, request, info: TickerInfo, page, limit: int, params: dict, kind: str):
        meta = page_meta(request, page, ticker=info.symbol, limit=limit, params=params)
        link = link_header(meta)
        texts = page.rows
        if self.row_format(request) == "csv":
            response = csv_response(
                request, columns=self.csv_columns, lines=texts, filename=f"{info.symbol}-{kind}.csv"
            )
        else:
            response = Response(ok(json_rows(texts), meta))
        if link:
            response["Link"] = link
        return response

    def validated(self, request):
        serializer = self.input_class(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class HistoryListApi(PagedApi):
    """Ticks of a ticker, ascending in time (``?format=csv`` for CSV)."""

    input_class = HistoryInput
    csv_columns = QUOTE_FIELDS

    @extend_schema(**schema.HISTORY)
    def get(self, request, ticker: str):
        info = ticker_or_404(ticker)
        args = self.validated(request)
        page = selectors.history_page(
            ticker=info,
            start=args.get("start"),
            end=args.get("end"),
            limit=args["limit"],
            now=now(),
            default_span=HistoryInput.DEFAULT_SPAN,
            max_span=HistoryInput.MAX_SPAN,
            fmt=self.row_format(request),
        )
        return self.respond(request, info, page, args["limit"], {}, "history")


class BarListApi(PagedApi):
    """OHLCV bars ``[t, t+timeframe)`` labelled by their start (``?format=csv`` for CSV)."""

    input_class = BarsInput
    csv_columns = BAR_FIELDS

    @extend_schema(**schema.BARS)
    def get(self, request, ticker: str):
        info = ticker_or_404(ticker)
        args = self.validated(request)
        timeframe = args["timeframe"]
        page = selectors.bars_page(
            ticker=info,
            timeframe=timeframe,
            start=args.get("start"),
            end=args.get("end"),
            limit=args["limit"],
            now=now(),
            default_span=BarsInput.DEFAULT_SPAN,
            max_span=BarsInput.MAX_SPAN_BUCKETS * selectors.bar_width(timeframe),
            fmt=self.row_format(request),
        )
        return self.respond(
            request, info, page, args["limit"], {"timeframe": timeframe}, f"bars-{timeframe}"
        )


class StatsDetailApi(ApiView):
    """Open, high, low, close, average price, volume, volatility and change over a period."""

    @extend_schema(**schema.STATS)
    def get(self, request, ticker: str):
        info = ticker_or_404(ticker)
        serializer = StatsInput(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data, meta = selectors.stats_get(
            ticker=info, period=serializer.validated_data["period"], now=now()
        )
        return Response(ok(data, meta))


class ServerTimeApi(AsyncReadApi):
    """The server's clock (ISO and epoch ms), to measure a client's clock skew."""

    @extend_schema(**schema.TIME)
    async def get(self, request):
        return self.get_sync(request)

    def get_sync(self, request):
        return Response(ok(selectors.server_time(now=now())))
