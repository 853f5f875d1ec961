"""OpenAPI 3 description (drf-spectacular): response envelopes, parameters, security schemes."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .inputs import DATE_HELP, PERIODS, TIMEFRAMES, BarsInput, HistoryInput


class AutoSchema(SpectacularAutoSchema):
    def get_auth(self):
        auths = super().get_auth()
        if not settings.API_KEYS_REQUIRED and {} not in auths:
            auths.append({})  # credentials optional
        return auths


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = ["ApiKeyHeader", "BearerKey"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            {"type": "http", "scheme": "bearer", "description": "The API key as a token"},
        ]

    def get_security_requirement(self, auto_schema):
        return [{"ApiKeyHeader": []}, {"BearerKey": []}]


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.StaffSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class DashboardTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.DashboardTokenAuthentication"
    name = "DashboardToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Dashboard-Token",
            "description": "The dashboard page's own short-lived token.",
        }


def drop_slash_aliases(endpoints):
    """Every endpoint also answers with a trailing slash; the schema lists each path once."""
    return [e for e in endpoints if not (e[0].endswith("/") and e[0] != "/api/v1/")]


# --- Shapes -----------------------------------------------------------------------------------
def _price(help_text: str = 'Price, two decimals ("152.34").', **kw):
    return serializers.CharField(help_text=help_text, **kw)


def _time():
    return serializers.CharField(help_text="ISO 8601 UTC with milliseconds and Z.")


class TickerOut(serializers.Serializer):
    ticker = serializers.CharField()
    name = serializers.CharField()
    sector = serializers.CharField()
    initial_price = _price()
    drift = serializers.FloatField(help_text="Annual drift, a fraction (0.05 = 5%).")
    volatility = serializers.FloatField(help_text="Annual volatility, a fraction.")
    min_price = _price()
    max_price = _price()
    active = serializers.BooleanField()
    tick_rate = serializers.FloatField(help_text="Ticks per second.")


class TickOut(serializers.Serializer):
    time = _time()
    ticker = serializers.CharField()
    price = _price()
    volume = serializers.IntegerField()
    bid = _price()
    ask = _price()
    seq = serializers.IntegerField(help_text="Per-ticker tick counter (negative for backfill).")


class QuoteOut(TickOut):
    status = serializers.ChoiceField(
        choices=["trading", "halted"],
        help_text="halted: the ticker is deactivated or in a halt event (no ticks meanwhile).",
    )


class BarOut(serializers.Serializer):
    time = serializers.CharField(help_text="Bucket start [t, t+timeframe), ISO 8601 UTC.")
    ticker = serializers.CharField()
    timeframe = serializers.ChoiceField(choices=TIMEFRAMES)
    open = _price()
    high = _price()
    low = _price()
    close = _price()
    volume = serializers.IntegerField()
    trade_count = serializers.IntegerField()
    vwap = _price()


class StatsOut(serializers.Serializer):
    ticker = serializers.CharField()
    period = serializers.ChoiceField(choices=PERIODS)
    tick_count = serializers.IntegerField()
    open = _price(allow_null=True)
    high = _price(allow_null=True)
    low = _price(allow_null=True)
    close = _price(allow_null=True)
    avg_price = _price(allow_null=True, help_text="Volume-weighted average price.")
    total_volume = serializers.IntegerField()
    volatility = serializers.FloatField(
        allow_null=True, help_text="Annualized realized volatility of log returns (a fraction)."
    )
    change = _price(allow_null=True)
    change_pct = serializers.FloatField(allow_null=True, help_text="Percent.")


class TimeOut(serializers.Serializer):
    time = _time()
    timestamp = serializers.IntegerField(help_text="Epoch milliseconds.")


class PageMeta(serializers.Serializer):
    ticker = serializers.CharField()
    start = _time()
    end = _time()
    count = serializers.IntegerField()
    limit = serializers.IntegerField()
    prev = serializers.URLField(
        required=False, allow_null=True, help_text="Older rows (without start)."
    )
    next = serializers.URLField(
        required=False, allow_null=True, help_text="Newer rows (with start)."
    )


class BarsMeta(PageMeta):
    timeframe = serializers.ChoiceField(choices=TIMEFRAMES)


class TickerMeta(serializers.Serializer):
    ticker = serializers.CharField()


class QuoteMeta(TickerMeta):
    source = serializers.ChoiceField(choices=["live", "database"])
    age_ms = serializers.IntegerField(help_text="Milliseconds since the quote's time.")
    stale = serializers.BooleanField(
        help_text=(
            "The market is open and no new tick came for GENERATION_STALE_SECONDS after one was "
            "due: the feed is not live (e.g. the generator is stopped)."
        )
    )


class StatsMeta(TickerMeta):
    period = serializers.ChoiceField(choices=PERIODS)
    start = _time()
    end = _time()


class CountMeta(serializers.Serializer):
    count = serializers.IntegerField()


class ErrorOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorEnvelope(serializers.Serializer):
    success = serializers.BooleanField()
    error = ErrorOut()


def envelope(name: str, data, meta) -> type[serializers.Serializer]:
    return type(
        name,
        (serializers.Serializer,),
        {"success": serializers.BooleanField(), "data": data, "meta": meta},
    )


TickersEnvelope = envelope("TickersEnvelope", TickerOut(many=True), CountMeta())
QuoteEnvelope = envelope("QuoteEnvelope", QuoteOut(), QuoteMeta())
HistoryEnvelope = envelope("HistoryEnvelope", TickOut(many=True), PageMeta())
BarsEnvelope = envelope("BarsEnvelope", BarOut(many=True), BarsMeta())
StatsEnvelope = envelope("StatsEnvelope", StatsOut(), StatsMeta())
TimeEnvelope = envelope("TimeEnvelope", TimeOut(), serializers.DictField())
RootEnvelope = envelope(
    "RootEnvelope", serializers.DictField(child=serializers.URLField()), serializers.DictField()
)

# --- Operations -------------------------------------------------------------------------------
_ERRORS = {
    401: OpenApiResponse(ErrorEnvelope, description="API key missing (when required) or invalid"),
    406: OpenApiResponse(ErrorEnvelope, description="Unsupported format or Accept header"),
    429: OpenApiResponse(ErrorEnvelope, description="Rate limited; see Retry-After"),
    503: OpenApiResponse(ErrorEnvelope, description="Database or Redis unreachable"),
}
_NOT_FOUND = OpenApiResponse(ErrorEnvelope, description="Unknown ticker (unknown_ticker)")
_BAD = OpenApiResponse(ErrorEnvelope, description="Invalid parameter (the code names which rule)")
TICKER = OpenApiParameter(
    "ticker",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="Ticker symbol, any case.",
    examples=[OpenApiExample("SYNTH", value="SYNTH")],
)


def _window(default: str, limit_default: int, limit_max: int, max_span: str):
    return [
        OpenApiParameter(
            "start",
            OpenApiTypes.STR,
            description=(
                f"Inclusive start: {DATE_HELP}. Given: the oldest rows from start on, "
                f"with meta.next. Default: the newest rows of the last {default}, with meta.prev."
            ),
        ),
        OpenApiParameter(
            "end",
            OpenApiTypes.STR,
            description=(
                f"Exclusive end, same formats (default now). A window is at most {max_span}."
            ),
        ),
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": limit_max},
            description=f"Rows per page (default {limit_default}).",
        ),
    ]


def _csv(envelope_cls):
    return {(200, "application/json"): envelope_cls, (200, "text/csv"): OpenApiTypes.STR}


def _errors(*extra):
    return {**dict(extra), **_ERRORS}


TICKERS = {"summary": "All tickers", "responses": {200: TickersEnvelope, **_errors()}}
QUOTE = {
    "summary": "Latest quote",
    "parameters": [TICKER],
    "responses": {
        200: QuoteEnvelope,
        **_errors(
            (
                404,
                OpenApiResponse(
                    ErrorEnvelope, description="Unknown ticker, or no quote yet (no_data)"
                ),
            )
        ),
    },
}
HISTORY = {
    "summary": "Historical ticks",
    "parameters": [
        TICKER,
        *_window("hour", HistoryInput.DEFAULT_LIMIT, HistoryInput.MAX_LIMIT, "1 day"),
    ],
    "responses": {**_csv(HistoryEnvelope), **_errors((400, _BAD), (404, _NOT_FOUND))},
}
BARS = {
    "summary": "OHLCV bars",
    "parameters": [
        TICKER,
        OpenApiParameter(
            "timeframe",
            OpenApiTypes.STR,
            enum=list(TIMEFRAMES),
            description="Bar width (default 1m).",
        ),
        *_window(
            "day",
            BarsInput.DEFAULT_LIMIT,
            BarsInput.MAX_LIMIT,
            f"{BarsInput.MAX_SPAN_BUCKETS:,} bars wide",
        ),
    ],
    "responses": {**_csv(BarsEnvelope), **_errors((400, _BAD), (404, _NOT_FOUND))},
}
STATS = {
    "summary": "Statistics of a period",
    "parameters": [
        TICKER,
        OpenApiParameter(
            "period",
            OpenApiTypes.STR,
            enum=list(PERIODS),
            description="Period ending now (default 1d).",
        ),
    ],
    "responses": {200: StatsEnvelope, **_errors((400, _BAD), (404, _NOT_FOUND))},
}
TIME = {"summary": "Server time", "responses": {200: TimeEnvelope, **_errors()}}
ROOT = {"summary": "Endpoints", "responses": {200: RootEnvelope, **_errors()}}
