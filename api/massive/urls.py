"""Routes of the Massive dialect (``config.urls`` includes them at the root, before the Alpaca
dialect's ``/v2/``): Massive's paths, no trailing slashes and nothing redirects. Any other path
under the dialect's prefixes (``api.massive.errors.PREFIXES``: ``/v1/``, ``/v3/``,
``/v2/aggs/``, ``/v2/last/``, ``/v2/snapshot/``), a trailing slash included, is Massive's 404;
the rest of ``/v2/`` stays Alpaca's."""

from django.urls import path, re_path

from . import views
from .errors import endpoint_not_found

app_name = "massive"

STOCKS = "v2/snapshot/locale/us/markets/stocks/tickers"

urlpatterns = [
    path(
        "v2/aggs/ticker/<str:ticker>/range/<str:multiplier>/<str:timespan>/<str:start>/<str:end>",
        views.AggregatesApi.as_view(),
        name="aggs",
    ),
    path("v2/aggs/ticker/<str:ticker>/prev", views.PreviousCloseApi.as_view(), name="prev"),
    path(
        "v2/aggs/grouped/locale/us/market/stocks/<str:day>",
        views.GroupedDailyApi.as_view(),
        name="grouped",
    ),
    path("v3/trades/<str:ticker>", views.TradesApi.as_view(), name="trades"),
    path("v3/quotes/<str:ticker>", views.QuotesApi.as_view(), name="quotes"),
    path("v2/last/trade/<str:ticker>", views.LastTradeApi.as_view(), name="last-trade"),
    path("v2/last/nbbo/<str:ticker>", views.LastQuoteApi.as_view(), name="last-quote"),
    path(STOCKS, views.SnapshotsApi.as_view(), name="snapshots"),
    path(f"{STOCKS}/<str:ticker>", views.SnapshotApi.as_view(), name="snapshot"),
    path("v1/marketstatus/now", views.MarketStatusApi.as_view(), name="market-status"),
    path("v3/reference/tickers", views.TickerListApi.as_view(), name="tickers"),
    path("v3/reference/tickers/<str:ticker>", views.TickerDetailApi.as_view(), name="ticker"),
    re_path(r"^(v1|v3|v2/aggs|v2/last|v2/snapshot)/.*$", endpoint_not_found),
]
