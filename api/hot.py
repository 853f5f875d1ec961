"""The hot reads: the live quote (``/api/v1/quote/<ticker>``) and the dialects' latest trade and
quote (Alpaca ``/v2/stocks/.../trades/latest`` and ``.../quotes/latest``, Massive
``/v2/last/trade/<ticker>`` and ``/v2/last/nbbo/<ticker>``), the endpoints bots poll most,
answered on daphne's event loop without Django's ASGI handler (``config.hot_reads``).

Each view of ``api.hot_urls`` is the ordinary DRF view of its route, served in two steps by the
same code as its ordinary fast dispatch (``HotReadApi``, ``api.fenced.drf_dispatch``):

1. ``prepare`` (async): DRF's ``initial`` (content negotiation, authentication and permissions,
   with the view's own classes), the rate limit awaited on the loop's Redis client
   (``ClientRateThrottle``, which also brings the live record in its round trip), and the view's
   ``fetch``. It gives up, having done nothing, when the request needs the ordinary path: a
   session cookie, a renderer other than JSON (the browsable API), an API key the key cache does
   not know (its lookup waits on the database), ``FAST_HTTP_ASYNC_READS`` off.
2. ``finish`` (sync): the view's ``answer`` from what was fetched, or the error envelope of what
   went wrong (``handle_exception``), through ``finalize_response``: the response before any
   middleware, which ``config.hot_reads`` then gives the middleware's part.

So authentication, rate limits, error envelopes and the views' headers are the ordinary ones.
"""

from django.views.decorators.csrf import csrf_exempt


def hot_view(view_class):
    """The view of a hot read of ``view_class`` (a ``HotReadApi``, that of the ordinary route):
    ``await view.prepare(request, **kwargs)`` runs step 1 and says whether the hot read takes the
    request, ``view.finish(request, **kwargs)`` step 2 (also kept as ``request.hot_response``);
    called as a plain view, it returns what ``finish`` made."""

    def view(request, *args, **kwargs):
        return request.hot_response

    async def prepare(request, *args, **kwargs) -> bool:
        read = view_class()
        read.setup(request, *args, **kwargs)
        if not await read.hot_prepare(request, *args, **kwargs):
            return False
        request.hot_read = read
        return True

    def finish(request, *args, **kwargs):
        request.hot_response = request.hot_read.hot_finish(*args, **kwargs)
        return request.hot_response

    view = csrf_exempt(view)  # as DRF's as_view(): the API authenticates by key, not by cookie
    view.prepare = prepare
    view.finish = finish
    view.view_class = view_class
    return view
