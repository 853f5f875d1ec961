"""One HTTP request straight into an ASGI application, without a server: for tests that need
daphne's code path (the event loop, ``ASGIHandler``) rather than the test client's WSGI one."""

import asyncio


def scope_for(method: str, path: str, headers: dict | None = None) -> dict:
    path, _, query = path.partition("?")
    raw = [(b"host", b"testserver")] + [
        (name.lower().encode(), value.encode()) for name, value in (headers or {}).items()
    ]
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": raw,
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "asgi": {"version": "3.0"},
    }


async def asgi_request(
    app, method: str, path: str, headers: dict | None = None
) -> tuple[int, dict, bytes]:
    """``(status, headers with lower-case names, body)``; the client stays connected until the
    application has answered."""
    sent, messages = [], [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.Event().wait()

    async def send(message):
        sent.append(message)

    await app(scope_for(method, path, headers), receive, send)
    start = sent[0]
    head = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return start["status"], head, b"".join(m.get("body", b"") for m in sent[1:])
