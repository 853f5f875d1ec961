"""What every API view shares: the envelope, the ticker lookup, and ``ApiView``."""

from django.http import HttpResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from ticks.market_time import market_now

from . import selectors
from .directory import TickerInfo, directory
from .errors import unknown_ticker


def ok(data, meta=None) -> dict:
    return {"success": True, "data": data, "meta": meta or {}}


def ticker_or_404(symbol: str) -> TickerInfo:
    info = directory.get(symbol)
    if info is None:
        raise unknown_ticker(symbol)
    return info


def now():
    return selectors.now_ms(market_now())


class ApiView(APIView):
    def get_view_name(self) -> str:
        return super().get_view_name().removesuffix(" Api")  # "Bar List", in the browsable API

    def options(self, request, *args, **kwargs):
        """DRF's description of the endpoint, in the envelope like every other answer."""
        return Response(ok(self.metadata_class().determine_metadata(request, self)))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        limit = getattr(request, "rate_limit", None)
        if limit is not None:
            response["X-RateLimit-Limit"] = str(limit[0])
            response["X-RateLimit-Remaining"] = str(limit[1])
        return rendered(response)


def rendered(response):
    """The response rendered here, in the view's thread, as a plain ``HttpResponse``.

    Django renders a response that has a ``render`` method (DRF's ``Response``) after the view,
    and under ASGI that is one more hop to a worker thread per request; a plain response has no
    such step.
    """
    if not isinstance(response, Response):
        return response
    response.render()
    plain = HttpResponse(response.content, status=response.status_code)
    for name, value in response.items():
        plain[name] = value
    plain.cookies = response.cookies
    return plain
