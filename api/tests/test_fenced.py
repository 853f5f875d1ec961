"""Contract tests of the DRF internals ``api.fenced.drf_dispatch`` re-enacts, against the pinned
DRF and Django. Each fails naming what changed: then set ``FAST_HTTP_ASYNC_READS=false`` until
``api/fenced/drf_dispatch.py`` follows."""

import asyncio

import pytest
from django.core.exceptions import SynchronousOnlyOperation
from django.test import RequestFactory
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from api.fenced.drf_dispatch import dispatch_awaited
from api.renderers import ORJSONRenderer

DISPATCH_SETS = ("args", "kwargs", "request", "headers", "response")


class Throttle(BaseThrottle):
    def allow_request(self, request, view):
        view.calls.append("throttle")
        return True

    async def allow_request_async(self, request, view, client):
        view.calls.append("throttle")
        return True


def probe(fail: bool):
    class Probe(APIView):
        authentication_classes = []
        permission_classes = []
        throttle_classes = [Throttle]
        renderer_classes = [ORJSONRenderer]
        throttles_awaited = False

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.calls = []

        def initialize_request(self, request, *args, **kwargs):
            self.calls.append("initialize_request")
            return super().initialize_request(request, *args, **kwargs)

        def initial(self, request, *args, **kwargs):
            self.calls.append("initial")
            super().initial(request, *args, **kwargs)

        def check_throttles(self, request):
            if not self.throttles_awaited:
                super().check_throttles(request)

        def get(self, request, *args, **kwargs):
            self.calls.append("get")
            if fail:
                raise NotFound("nope")
            return Response({"ok": True, "kwargs": kwargs})

        def handle_exception(self, exc):
            self.calls.append("handle_exception")
            return super().handle_exception(exc)

        def finalize_response(self, request, response, *args, **kwargs):
            self.calls.append("finalize_response")
            return super().finalize_response(request, response, *args, **kwargs)

    return Probe()


@pytest.mark.parametrize("fail", [False, True])
def test_drf_dispatch_steps(fail):
    """DRF's ``APIView.dispatch`` takes the steps, in the order, and sets the view attributes
    that ``dispatch_awaited`` copies; both answer alike."""
    request = RequestFactory().get("/probe")
    drf, ours = probe(fail), probe(fail)
    drf.setup(request, symbol="X")
    expected = drf.dispatch(request, symbol="X")
    ours.setup(request, symbol="X")
    got = asyncio.run(
        dispatch_awaited(ours, request, json_renderer=ORJSONRenderer, client=None, symbol="X")
    )
    assert ours.calls == drf.calls, (
        f"DRF internal: APIView.dispatch's steps are now {drf.calls}, "
        f"api/fenced/drf_dispatch.py takes {ours.calls}"
    )
    for name in DISPATCH_SETS:
        assert hasattr(drf, name), f"DRF internal: APIView.dispatch no longer sets view.{name}"
    assert (got.status_code, got.render().content) == (
        expected.status_code,
        expected.render().content,
    )


def test_django_refuses_the_orm_on_a_running_loop():
    """Authentication that needs the database is recognised by Django's documented
    ``SynchronousOnlyOperation`` (then the request goes to a thread)."""
    from api.models import ApiKey

    async def on_the_loop():
        ApiKey.objects.filter(id=0).exists()

    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(on_the_loop())
