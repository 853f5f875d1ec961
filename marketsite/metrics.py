"""``/metrics``: the Prometheus exposition of this host's processes (prometheus-client's Django
view) with the live pipeline's gauges, for the clients ``METRICS_ALLOWED_IPS`` and
``METRICS_TOKEN`` admit (``ticks.metrics_access``); 401/403 as plain text for the others, 404
with ``METRICS_ENABLED=false``. What is in it: README, "Metrics"."""

import logging

from django.conf import settings
from django.http import HttpResponse
from prometheus_client.django import PrometheusDjangoView
from rest_framework.throttling import BaseThrottle

from ticks.metrics import flush_tallies
from ticks.metrics_access import metrics_refusal
from ticks.metrics_export import scrape_registry

logger = logging.getLogger(__name__)


def _text(status: int, message: str, headers: dict | None = None) -> HttpResponse:
    return HttpResponse(
        message + "\n", status=status, content_type="text/plain; charset=utf-8", headers=headers
    )


class MetricsView(PrometheusDjangoView):
    def dispatch(self, request, *args, **kwargs):
        if not settings.METRICS_ENABLED:
            return _text(404, "metrics are switched off (METRICS_ENABLED=false)")
        refusal = metrics_refusal(
            # the client's address as the rate limits see it (API_NUM_PROXIES), DRF's rule
            client_ip=BaseThrottle().get_ident(request),
            authorization=request.headers.get("Authorization"),
        )
        if refusal is not None:
            return _text(refusal.status, refusal.message, refusal.headers)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        try:
            flush_tallies()  # this process's stream counters, up to this moment
            self.registry = scrape_registry(pipeline=True)
            return super().get(request, *args, **kwargs)
        except Exception:
            logger.exception("metrics: the exposition failed")
            return _text(503, "metrics are unavailable for a moment (see the server log)")


metrics = MetricsView.as_view()
