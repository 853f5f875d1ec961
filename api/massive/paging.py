"""``cursor``/``next_url``: the next page of a Massive answer, as Massive's clients follow it.

``next_url`` is an absolute URL on the host the request came to (the ``massive`` client keeps
only its path and query, and sends its key in a header): the same path, the same parameters
(but never ``apiKey``: a key does not travel in URLs we hand out) and ``cursor``, an opaque
token: the URL-safe base64 (unpadded) of ``[n]``, the keyset position of the page it follows
(epoch ms of its last row, or how many tickers were listed). A cursor that does not decode to
that is a 400. The last page has no ``next_url`` at all (the client stops when the key is
missing).
"""

import base64
import binascii
from urllib.parse import urlencode

import orjson

from .authentication import QUERY_KEY
from .errors import bad_request

CURSOR = "cursor"
MAX_CURSOR_LENGTH = 100


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([value])).rstrip(b"=").decode()


def decode_cursor(params) -> int | None:
    token = params.get(CURSOR)
    if token is None or token == "":
        return None
    try:
        if len(token) > MAX_CURSOR_LENGTH or not token.isascii():
            raise ValueError
        (value,) = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if type(value) is not int or not -(2**53) < value < 2**53:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise bad_request("invalid cursor: pass the next_url of the previous page") from None
    return value


def next_url(request, value: int | None) -> dict:
    """``{"next_url": ...}`` for a next page at ``value``, ``{}`` on the last page."""
    if value is None:
        return {}
    query = [
        (name, item)
        for name, items in request.query_params.lists()
        if name not in (CURSOR, QUERY_KEY)
        for item in items
    ]
    query.append((CURSOR, encode_cursor(value)))
    return {"next_url": request.build_absolute_uri(request.path) + "?" + urlencode(query)}
