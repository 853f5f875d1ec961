"""REST API v1 routes (seed paths, no trailing slash; one is tolerated)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views
from .errors import not_found
from .events import EventListApi

app_name = "api"


def endpoint(route: str, view, name: str):
    """``route`` and ``route/``: the seed's paths have no slash, some clients add one."""
    return [path(route, view, name=name), path(f"{route}/", view)]


urlpatterns = [
    path("", views.ApiRootApi.as_view(), name="root"),
    *endpoint("tickers", views.TickerListApi.as_view(), "tickers"),
    *endpoint("quote/<str:ticker>", views.QuoteDetailApi.as_view(), "quote"),
    *endpoint("history/<str:ticker>", views.HistoryListApi.as_view(), "history"),
    *endpoint("bars/<str:ticker>", views.BarListApi.as_view(), "bars"),
    *endpoint("stats/<str:ticker>", views.StatsDetailApi.as_view(), "stats"),
    *endpoint("time", views.ServerTimeApi.as_view(), "time"),
    *endpoint("events", EventListApi.as_view(), "events"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view: its init script is a separate request (`?script`), not inline, so the page
    # works under the Content-Security-Policy; the template moves the page's inline style out too.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    re_path(r"^.*$", not_found),
]
