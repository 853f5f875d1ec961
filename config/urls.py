"""Root URLs: the API, the human-facing site, and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    # The Massive (Polygon) dialect: /v1/, /v3/ and /v2/aggs|last|snapshot (before Alpaca's /v2/).
    path("", include("api.massive.urls")),
    # The Alpaca Market Data v2 dialect and Trading-API reads (no trailing slashes).
    path("v2/", include("api.alpaca.urls")),
    path("", include("marketsite.urls")),
]

# Errors Django answers itself: the API's error envelope under /api/, Massive's form under its
# paths, Alpaca's under the rest of /v2/, Django's pages elsewhere.
handler400 = "api.errors.handler400"
handler404 = "api.errors.handler404"
handler500 = "api.errors.handler500"
