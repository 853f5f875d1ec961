"""The service's URLs plus ``/bench/constant``: a minimal Django view returning a constant JSON
body, the framework's ceiling that ``python -m bench rest`` compares the API with. Only the
bench's settings (``bench.rest_settings``) route here."""

from django.http import JsonResponse
from django.urls import include, path

from config.urls import handler400, handler404, handler500  # noqa: F401

CONSTANT = {"success": True, "data": {"ok": True}, "meta": {}}


def constant(request):
    return JsonResponse(CONSTANT)


urlpatterns = [
    path("bench/constant", constant),
    path("", include("config.urls")),
]
