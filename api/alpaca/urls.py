"""Routes of the Alpaca dialect, under ``/v2/`` (``config.urls``). No route has a trailing
slash and nothing redirects (alpaca-py never follows redirects): any other path, a trailing
slash included, is Alpaca's 404."""

from django.urls import path, re_path

from . import views
from .errors import endpoint_not_found

app_name = "alpaca"

urlpatterns = [
    path("stocks/bars", views.BarsApi.as_view(), name="bars"),
    path("stocks/trades", views.TradesApi.as_view(), name="trades"),
    path("stocks/quotes", views.QuotesApi.as_view(), name="quotes"),
    path("stocks/bars/latest", views.LatestBarsApi.as_view(), name="bars-latest"),
    path("stocks/trades/latest", views.LatestTradesApi.as_view(), name="trades-latest"),
    path("stocks/quotes/latest", views.LatestQuotesApi.as_view(), name="quotes-latest"),
    path("stocks/snapshots", views.SnapshotsApi.as_view(), name="snapshots"),
    path("stocks/<str:symbol>/bars", views.BarsApi.as_view(), name="symbol-bars"),
    path("stocks/<str:symbol>/trades", views.TradesApi.as_view(), name="symbol-trades"),
    path("stocks/<str:symbol>/quotes", views.QuotesApi.as_view(), name="symbol-quotes"),
    path("stocks/<str:symbol>/bars/latest", views.LatestBarsApi.as_view(), name="symbol-bar"),
    path("stocks/<str:symbol>/trades/latest", views.LatestTradesApi.as_view(), name="symbol-trade"),
    path("stocks/<str:symbol>/quotes/latest", views.LatestQuotesApi.as_view(), name="symbol-quote"),
    path("stocks/<str:symbol>/snapshot", views.SnapshotsApi.as_view(), name="symbol-snapshot"),
    path("clock", views.ClockApi.as_view(), name="clock"),
    path("calendar", views.CalendarApi.as_view(), name="calendar"),
    path("assets", views.AssetListApi.as_view(), name="assets"),
    path("assets/<str:symbol_or_id>", views.AssetDetailApi.as_view(), name="asset"),
    re_path(r"^.*$", endpoint_not_found),
]
