"""Renderers: JSON through orjson, and CSV (streamed) for the history and bars pages."""

from decimal import Decimal

import orjson
from django.http import StreamingHttpResponse
from django.utils.functional import Promise
from rest_framework.renderers import BaseRenderer

CSV_CHUNK_ROWS = 2000


def _default(value):
    if isinstance(value, (Decimal, Promise)):
        return str(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


class ORJSONRenderer(BaseRenderer):
    """``application/json``, several times faster than the stdlib encoder on large pages."""

    media_type = "application/json"
    format = "json"
    charset = None  # JSON is UTF-8 by definition

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        option = orjson.OPT_NON_STR_KEYS
        if (renderer_context or {}).get("indent") or "indent" in (accepted_media_type or ""):
            # The browsable API's pretty print; pre-serialized rows (``json_rows``) are parsed
            # first, or they would be printed as one long line.
            data = orjson.loads(orjson.dumps(data, default=_default, option=option))
            option |= orjson.OPT_INDENT_2
        return orjson.dumps(data, default=_default, option=option)


def json_rows(texts) -> orjson.Fragment:
    """Rows PostgreSQL serialized as JSON objects (``ticks.selectors``), as one JSON array that
    orjson writes into the response as it is."""
    return orjson.Fragment(b"[" + ",".join(texts).encode() + b"]")


def csv_chunks(columns: list[str], lines: list[str]):
    """The header row, then the CSV lines ``CSV_CHUNK_ROWS`` at a time, as encoded bytes.

    The lines come from PostgreSQL (``ticks.selectors``): times, symbols, timeframes and numbers,
    none of which holds a comma, a quote or a line break, so they need no quoting."""
    head = ",".join(columns) + "\r\n"
    if not lines:
        yield head.encode()
    for i in range(0, len(lines), CSV_CHUNK_ROWS):
        chunk = "\r\n".join(lines[i : i + CSV_CHUNK_ROWS]) + "\r\n"
        yield ((head if i == 0 else "") + chunk).encode()


async def _aiter(chunks):
    for chunk in chunks:
        yield chunk


def csv_response(
    request, *, columns: list[str], lines: list[str], filename: str
) -> StreamingHttpResponse:
    """A streamed CSV page: chunks go out as they are encoded (an async iterator under ASGI,
    which Django would otherwise buffer whole)."""
    chunks = csv_chunks(columns, lines)
    # Served under ASGI: the request carries its ASGI scope (a DRF request hands attributes it
    # does not have to Django's, as DRF documents), which a WSGI request never has.
    asynchronous = getattr(request, "scope", None) is not None
    response = StreamingHttpResponse(
        _aiter(chunks) if asynchronous else chunks, content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


class CSVRenderer(BaseRenderer):
    """``text/csv`` (``?format=csv``) for history and bars.

    The paged views stream their CSV pages themselves (``csv_response``); what DRF renders with
    this renderer is only what is not a page, such as an error asked for as CSV: that stays the
    JSON envelope, so a client always gets the error's code and message.
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return orjson.dumps(data, default=_default)
