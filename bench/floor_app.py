"""``bench rest --processes``'s floor: a bare ASGI application answering a constant JSON body
with as many headers as the hot quote's answer, for the servers' own cost per request (daphne's,
uvicorn's) measured beside the services. Bench-only."""

BODY = b'{"success":true,"data":{"time":"2026-01-01T00:00:00.000Z","ticker":"SYNTH"}}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
] + [(f"x-floor-{i}".encode(), b"x" * 40) for i in range(12)]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
