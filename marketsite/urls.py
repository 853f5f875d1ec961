from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from . import views
from .metrics import metrics

app_name = "marketsite"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dashboard/token", views.dashboard_token, name="dashboard-token"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's): the site's own.
    path("favicon.ico", RedirectView.as_view(url=static("marketsite/favicon.svg")), name="favicon"),
]
