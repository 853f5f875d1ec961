"""Health endpoints (the dashboard page arrives with its own issue)."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .health import readiness


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
