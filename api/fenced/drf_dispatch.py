"""DRF internal: ``APIView.dispatch`` re-enacted on the event loop, throttles and handler awaited.

DRF 3.18 has no async dispatch. Its documented dispatch steps are public (``initialize_request``,
``initial``, ``handle_exception``, ``finalize_response``, ``get_throttles``, ``throttled``),
but their order and the attributes dispatch sets on the view (``args``, ``kwargs``,
``request``, ``headers``, ``response``) are the body of ``APIView.dispatch``, copied here:

- ``initial`` runs content negotiation, authentication and permissions as they are; the view's
  ``check_throttles`` must skip its blocking check while ``view.throttles_awaited`` is set (the
  throttles are awaited here instead, each through ``allow_request_async``);
- authentication that needs the database raises Django's documented
  ``SynchronousOnlyOperation`` on the loop (only an API key not seen for a few seconds does;
  nothing is written by then): ``NeedsThread``, and the caller answers in a thread;
- a renderer other than ``json_renderer`` (the browsable API renders templates): ``NeedsThread``.

It is cut in two (``prepare_awaited``, then ``finish``), for the hot reads (``api.hot``): the
first part does the request's I/O on the loop before Django's middleware runs, the second makes
the answer inside the middleware chain. ``dispatch_awaited`` runs both at once.

Switch: ``FAST_HTTP_ASYNC_READS=false`` (every request through DRF's own dispatch, in a thread).
Contract test: ``api/tests/test_fenced.py::test_drf_dispatch_steps``.
"""

from inspect import isawaitable

from django.core.exceptions import SynchronousOnlyOperation


class NeedsThread(Exception):
    """The request turned out to need blocking I/O: answer it in the request's thread."""


async def dispatch_awaited(view, request, *args, json_renderer, client, **kwargs):
    """``APIView.dispatch`` for a GET/HEAD whose handler ``view.get`` may be a coroutine."""
    request, outcome = await prepare_awaited(
        view, request, *args, json_renderer=json_renderer, client=client, read=view.get, **kwargs
    )
    return finish(view, request, outcome, lambda request, got, *a, **k: got, *args, **kwargs)


async def prepare_awaited(view, request, *args, json_renderer, client, read, **kwargs):
    """The first part of ``APIView.dispatch``, up to and including the handler's I/O:
    ``read(request, ...)``, awaited when it is a coroutine. Returns the DRF request and the
    outcome, ``(value read, None)`` or ``(None, the exception raised)``; ``NeedsThread`` before
    anything has happened that the ordinary dispatch would not do again alike."""
    view.args, view.kwargs = args, kwargs
    request = view.initialize_request(request, *args, **kwargs)
    view.request = request
    view.headers = view.default_response_headers
    view.throttles_awaited = True
    try:
        try:
            view.initial(request, *args, **kwargs)  # throttles skipped: awaited below
        except SynchronousOnlyOperation:  # authentication wanted the database
            raise NeedsThread from None
        if not isinstance(request.accepted_renderer, json_renderer):
            raise NeedsThread
        await check_throttles_awaited(view, request, client)
        got = read(request, *args, **kwargs)
        if isawaitable(got):
            got = await got
    except NeedsThread:
        raise
    except Exception as exc:
        return request, (None, exc)
    return request, (got, None)


def finish(view, request, outcome, answer, *args, **kwargs):
    """The rest of ``APIView.dispatch``: ``answer(request, value read, ...)`` (or the outcome's
    exception) through ``handle_exception`` and ``finalize_response``."""
    got, error = outcome
    try:
        if error is not None:
            raise error
        response = answer(request, got, *args, **kwargs)
    except Exception as exc:
        response = view.handle_exception(exc)
    view.response = view.finalize_response(request, response, *args, **kwargs)
    return view.response


async def check_throttles_awaited(view, request, client) -> None:
    """DRF's ``APIView.check_throttles``, each throttle's ``allow_request_async`` awaited."""
    durations = []
    for throttle in view.get_throttles():
        if not await throttle.allow_request_async(request, view, client):
            durations.append(throttle.wait())
    if durations:
        known = [d for d in durations if d is not None]
        view.throttled(request, max(known, default=None))
