"""The dashboard page and its token, and the health endpoints."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import get_script_prefix, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ticks.market_time import market_now
from ticks.stream_tokens import HEADER, QUERY_PARAM, dashboard_token_issue

from .dashboard import TIMEFRAMES, dashboard_state
from .health import readiness
from .tokens import dashboard_access_allowed


@require_GET
@never_cache  # the page carries a short-lived token and the latest prices
def dashboard(request):
    """``/``, ``/?ticker=SYNTH&timeframe=5m``: 404 (with the page and a message) for an unknown
    ticker; an unknown timeframe falls back to 1m. With API keys required and the dashboard not
    public, only for a signed-in user (others are sent to the admin's login)."""
    if not dashboard_access_allowed(request):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    now = market_now()
    state = dashboard_state(
        ticker=request.GET.get("ticker", ""), timeframe=request.GET.get("timeframe", ""), now=now
    )
    root = get_script_prefix()
    config = {
        "apiBase": f"{root}api/v1",
        "wsPath": f"{root}ws",
        "tokenUrl": reverse("marketsite:dashboard-token"),
        "token": dashboard_token_issue(),
        "tokenHeader": HEADER,
        "tokenParam": QUERY_PARAM,
        "tokenMaxAgeS": settings.DASHBOARD_TOKEN_MAX_AGE_S,
        "serverTimeMs": int(now.timestamp() * 1000),
        "replaySeconds": settings.WS_REPLAY_SECONDS,
        "staleAfterMs": int(settings.GENERATION_STALE_SECONDS * 1000),
        "timeframes": list(TIMEFRAMES),
        "timeframe": state.timeframe,
        "selected": state.selected,
        "unknownTicker": state.unknown_ticker,
        "tickers": state.tickers,
        "dayOpen": state.day_open,
        "sparklines": state.sparklines,
        "sessions": state.sessions,
    }
    context = {
        "state": state,
        "config": config,
        "links": {
            "docs": f"{root}api/v1/docs/",
            "browsable": f"{root}api/v1/tickers",
            "admin": reverse("admin:index"),
        },
    }
    return render(
        request, "marketsite/dashboard.html", context, status=404 if state.unknown_ticker else 200
    )


@require_GET
@never_cache
def dashboard_token(request):
    """A fresh dashboard token, for the page to renew its own before it expires (403 where the
    dashboard itself would not be shown)."""
    if not dashboard_access_allowed(request):
        return JsonResponse(
            {
                "error": {
                    "code": "sign_in_required",
                    "message": (
                        "API keys are required: sign in to get a dashboard token, or use an API key."
                    ),
                }
            },
            status=403,
        )
    return JsonResponse(
        {"token": dashboard_token_issue(), "expires_in": settings.DASHBOARD_TOKEN_MAX_AGE_S}
    )


@require_GET
def healthz(request):
    """Liveness: the process answers. No dependency is touched."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """Readiness: database and Redis reachable; 503 with the failing check otherwise."""
    result = readiness()
    result["status"] = "ready" if result["ready"] else "not_ready"
    return JsonResponse(result, status=200 if result["ready"] else 503)
