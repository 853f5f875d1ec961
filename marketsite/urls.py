from django.urls import path

from . import views

app_name = "marketsite"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dashboard/token", views.dashboard_token, name="dashboard-token"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]
