"""Renderers: JSON through orjson, and CSV (streamed) for the history and bars pages."""

import csv
import io
from decimal import Decimal
from operator import itemgetter

import orjson
from django.core.handlers.asgi import ASGIRequest
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
            option |= orjson.OPT_INDENT_2  # the browsable API's pretty print
        return orjson.dumps(data, default=_default, option=option)


def csv_chunks(columns: list[str], rows: list[dict]):
    """The header row, then the rows ``CSV_CHUNK_ROWS`` at a time, as encoded bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    pick = itemgetter(*columns)
    for i in range(0, len(rows), CSV_CHUNK_ROWS):
        writer.writerows(map(pick, rows[i:i + CSV_CHUNK_ROWS]))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


async def _aiter(chunks):
    for chunk in chunks:
        yield chunk


def csv_response(request, *, columns: list[str], rows: list[dict],
                 filename: str) -> StreamingHttpResponse:
    """A streamed CSV page: chunks go out as they are encoded (an async iterator under ASGI,
    which Django would otherwise buffer whole)."""
    chunks = csv_chunks(columns, rows)
    asynchronous = isinstance(getattr(request, "_request", request), ASGIRequest)
    response = StreamingHttpResponse(_aiter(chunks) if asynchronous else chunks,
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


class CSVRenderer(BaseRenderer):
    """``text/csv`` (``?format=csv``): a header row, then one line per row of ``data``.

    The paged views stream CSV themselves through ``csv_response``; this renders the same bytes
    when DRF renders a ``Response`` (the view's ``csv_columns`` name the columns).
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        view = (renderer_context or {}).get("view")
        columns = list(getattr(view, "csv_columns", ()))
        rows = data.get("data") if isinstance(data, dict) else None
        if not columns or not isinstance(rows, list):
            return orjson.dumps(data, default=_default)
        return b"".join(csv_chunks(columns, rows))
