"""REST API v1: one thin view per operation. Input is validated by the serializers of
``api.inputs``, data comes from ``api.services``, every answer is the envelope
``{"success": true, "data": ..., "meta": {...}}`` (errors: ``api.errors``)."""

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from ticks.live_store import KEYS

from . import schema, services
from .directory import TickerInfo, directory
from .errors import unknown_ticker
from .inputs import BarsInput, HistoryInput, StatsInput
from .paging import link_header, page_meta
from .renderers import CSVRenderer, ORJSONRenderer, csv_response, json_rows
from .shapes import BAR_FIELDS, QUOTE_FIELDS, ticker_out


def ok(data, meta=None) -> dict:
    return {"success": True, "data": data, "meta": meta or {}}


def ticker_or_404(symbol: str) -> TickerInfo:
    info = directory.get(symbol)
    if info is None:
        raise unknown_ticker(symbol)
    return info


def now():
    return services.now_ms(timezone.now())


class ApiView(APIView):
    def get_view_name(self) -> str:
        return super().get_view_name().removesuffix(" Api")  # "Bar List", in the browsable API

    def options(self, request, *args, **kwargs):
        """DRF's description of the endpoint, in the envelope like every other answer."""
        return Response(ok(self.metadata_class().determine_metadata(request, self)))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        limit = getattr(request, "rate_limit", None)
        if limit is not None:
            response["X-RateLimit-Limit"] = str(limit[0])
            response["X-RateLimit-Remaining"] = str(limit[1])
        return rendered(response)


def rendered(response):
    """The response rendered here, in the view's thread, as a plain ``HttpResponse``.

    Django renders a response that has a ``render`` method (DRF's ``Response``) after the view,
    and under ASGI that is one more hop to a worker thread per request; a plain response has no
    such step.
    """
    if not isinstance(response, Response):
        return response
    response.render()
    plain = HttpResponse(response.content, status=response.status_code)
    for name, value in response.items():
        plain[name] = value
    plain.cookies = response.cookies
    return plain


class ApiRootApi(ApiView):
    """The endpoints of the API."""

    @extend_schema(**schema.ROOT)
    def get(self, request):
        names = ("tickers", "time", "schema", "docs")
        links = {name: request.build_absolute_uri(reverse(f"api:{name}")) for name in names}
        for name in ("quote", "history", "bars", "stats"):
            links[name] = request.build_absolute_uri(
                reverse(f"api:{name}", args=["SYNTH"]))
        return Response(ok(links))


class TickerListApi(ApiView):
    """Every ticker with its price-process parameters."""

    @extend_schema(**schema.TICKERS)
    def get(self, request):
        tickers = [ticker_out(info) for info in directory.all()]
        return Response(ok(tickers, {"count": len(tickers)}))


class QuoteDetailApi(ApiView):
    """The latest quote of a ticker (from the live feed; the newest stored tick as fallback)."""

    @staticmethod
    def throttle_prefetch(request, view):
        """The live quote, read in the rate limiter's Redis round trip (one instead of two)."""
        return KEYS.quotes, view.kwargs.get("ticker", "").strip().upper()

    @extend_schema(**schema.QUOTE)
    def get(self, request, ticker: str):
        info = ticker_or_404(ticker)
        prefetched = getattr(request, "prefetched", services.NOT_FETCHED)
        quote, source = services.quote_get(ticker=info, prefetched=prefetched)
        return Response(ok(quote, {"ticker": info.symbol, "source": source}))


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
            response = csv_response(request, columns=self.csv_columns, lines=texts,
                                    filename=f"{info.symbol}-{kind}.csv")
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
        page = services.history_page(
            ticker=info, start=args.get("start"), end=args.get("end"), limit=args["limit"],
            now=now(), default_span=HistoryInput.DEFAULT_SPAN, max_span=HistoryInput.MAX_SPAN,
            fmt=self.row_format(request))
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
        page = services.bars_page(
            ticker=info, timeframe=timeframe, start=args.get("start"), end=args.get("end"),
            limit=args["limit"], now=now(), default_span=BarsInput.DEFAULT_SPAN,
            max_span=BarsInput.MAX_SPAN_BUCKETS * services.bar_width(timeframe),
            fmt=self.row_format(request))
        return self.respond(request, info, page, args["limit"], {"timeframe": timeframe},
                            f"bars-{timeframe}")


class StatsDetailApi(ApiView):
    """Open, high, low, close, average price, volume, volatility and change over a period."""

    @extend_schema(**schema.STATS)
    def get(self, request, ticker: str):
        info = ticker_or_404(ticker)
        serializer = StatsInput(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data, meta = services.stats_get(ticker=info, period=serializer.validated_data["period"],
                                        now=now())
        return Response(ok(data, meta))


class ServerTimeApi(ApiView):
    """The server's clock (ISO and epoch ms), to measure a client's clock skew."""

    @extend_schema(**schema.TIME)
    def get(self, request):
        return Response(ok(services.server_time(now=now())))
