"""Time-based paging of history and bars (README, "REST API": ``meta.prev`` and ``meta.next``).

Without ``start``: the newest ``limit`` rows of ``[end - default window, end)`` (``end``
defaults to now), ascending, and ``meta.prev`` for older rows. With ``start``: the oldest
``limit`` rows of ``[start, end)``, and ``meta.next``. A cursor is a time (the oldest row
returned is the next page's exclusive ``end``; the newest returned plus 1 ms is the next page's
``start``), so pages stay exact while new rows arrive. Rows past the window are never cut off
silently: when the window holds no more but older (or, for a window whose end was not given,
newer) rows exist, the link jumps to them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .shapes import iso_from_ms, iso_ms

Fetch = Callable[..., list]  # (start, end, limit, newest) -> rows, ascending
RowMs = Callable[[Any], int]  # a row -> its epoch ms
Neighbour = Callable[..., int | None]  # (at, before) -> epoch ms of the nearest row


@dataclass
class Page:
    rows: list
    start: datetime
    end: datetime
    forward: bool
    prev_end_ms: int | None = None
    next_start_ms: int | None = None


def page_read(
    *,
    fetch: Fetch,
    row_ms: RowMs,
    neighbour: Neighbour,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    now: datetime,
    default_span: timedelta,
    max_span: timedelta,
) -> Page:
    if start is None:
        end = end or now
        lo = end - default_span
        rows = fetch(start=lo, end=end, limit=limit + 1, newest=True)
        page = Page(rows=rows[-limit:], start=lo, end=end, forward=False)
        if len(rows) > limit:
            page.prev_end_ms = row_ms(page.rows[0])
        else:
            older = neighbour(at=lo, before=True)
            page.prev_end_ms = older + 1 if older is not None else None
        return page
    open_ended = end is None
    if open_ended:
        end = max(start, min(now, start + max_span))
    rows = fetch(start=start, end=end, limit=limit + 1, newest=False)
    page = Page(rows=rows[:limit], start=start, end=end, forward=True)
    if len(rows) > limit:
        page.next_start_ms = row_ms(page.rows[-1]) + 1
    elif open_ended:
        page.next_start_ms = neighbour(at=end, before=False)
    return page


def page_meta(request, page: Page, *, ticker: str, limit: int, params: dict) -> dict:
    """``meta`` of a page: the resolved ticker, window and count, and the paging link."""
    meta = {
        "ticker": ticker,
        **params,
        "start": iso_ms(page.start),
        "end": iso_ms(page.end),
        "count": len(page.rows),
        "limit": limit,
    }
    keep = {**params, "limit": limit}
    fmt = request.query_params.get("format")
    if fmt:
        keep["format"] = fmt
    if page.forward:
        link = None
        if page.next_start_ms is not None:
            query = {**keep, "start": iso_from_ms(page.next_start_ms)}
            if "end" in request.query_params and request.query_params["end"]:
                query["end"] = iso_ms(page.end)
            link = _url(request, query)
        meta["next"] = link
    else:
        meta["prev"] = (
            _url(request, {**keep, "end": iso_from_ms(page.prev_end_ms)})
            if page.prev_end_ms is not None
            else None
        )
    return meta


def link_header(meta: dict) -> str | None:
    links = [f'<{meta[rel]}>; rel="{rel}"' for rel in ("prev", "next") if meta.get(rel)]
    return ", ".join(links) or None


def _url(request, query: dict) -> str:
    return request.build_absolute_uri(f"{request.path}?{urlencode(query)}")
