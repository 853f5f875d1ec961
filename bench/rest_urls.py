"""The service's URLs plus ``/bench/constant``: a minimal Django view returning a constant JSON
body, the framework's ceiling that ``python -m bench rest`` compares the API with. Only the
bench's settings (``bench.rest_settings``) route here."""

from django.http import JsonResponse
from django.urls import path

from config.urls import handler400, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as service_urlpatterns

CONSTANT = {"success": True, "data": {"ok": True}, "meta": {}}


def constant(request):
    return JsonResponse(CONSTANT)


# The service's own patterns as they are (not nested in one more include, which would make
# every API request resolve one level deeper than in production), after the baseline's.
urlpatterns = [path("bench/constant", constant), *service_urlpatterns]
