"""The reverse proxy in front of daphne (config/proxy/nginx.conf, the compose `proxy` service) and
Django's own request-size limits.

The configuration is parsed and its limits, timeouts and headers checked everywhere. Where the
``nginx`` binary is installed (Debian's package; `make test` installs it when CI=true) a copy of the
file is also run, as an ordinary process in a temporary folder on free local ports, in front of a
tiny local upstream that records what reaches it: a 2 MB body gets 413 without reaching it, a
request declaring 1 GB is refused at once, a stalled body or header is cut off after the timeout,
a WebSocket upgrade passes through, and X-Forwarded-* sent by a client are replaced.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from testsupport.services import free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "config" / "proxy" / "nginx.conf"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
MIB = 1024 * 1024
# The running copy's header and body timeouts: shorter than the file's 10 s, so the test is quick;
# the static tests check the file's own values.
TEST_TIMEOUT_S = 2


# --- The file -------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|#[^\n]*|[{};]|[^\s{};'"#]+""")


def parse(text: str) -> list[tuple[str, list[str], list | None]]:
    """nginx's configuration syntax: ``[(name, args, children or None)]``, comments dropped."""
    tokens = [t for t in _TOKEN.findall(text) if not t.startswith("#")]
    position = 0

    def block() -> list:
        nonlocal position
        directives, words = [], []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                directives.append((words[0], words[1:], None))
                words = []
            elif token == "{":
                children = block()
                directives.append((words[0], words[1:], children))
                words = []
            elif token == "}":
                assert not words, f"unterminated directive {words}"
                return directives
            else:
                words.append(token.strip("'\"") if token[:1] in "'\"" else token)
        assert not words, f"unterminated directive {words}"
        return directives

    return block()


def directives(block: list, name: str) -> list[tuple[list[str], list | None]]:
    return [(args, children) for n, args, children in block if n == name]


def walk(block: list):
    """Every directive in ``block`` and the blocks inside it."""
    for directive in block:
        yield directive
        if directive[2] is not None:
            yield from walk(directive[2])


def one(block: list, name: str, *args: str) -> tuple[list[str], list | None]:
    """The single directive ``name`` (whose arguments start with ``args``) in ``block``."""
    found = [d for d in directives(block, name) if d[0][: len(args)] == list(args)]
    assert len(found) == 1, f"expected one `{name} {' '.join(args)}`, found {found}"
    return found[0]


def seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value)
    assert match, value
    return int(match.group(1)) * units[match.group(2) or "s"]


@pytest.fixture(scope="module")
def conf() -> list:
    return parse(NGINX_CONF.read_text())


@pytest.fixture(scope="module")
def server(conf) -> list:
    http = one(conf, "http")[1]
    assert len(directives(http, "server")) == 1
    return one(http, "server")[1]


def test_proxy_listens_on_3000_and_forwards_to_the_web_service(conf, server):
    http = one(conf, "http")[1]
    upstream = one(http, "upstream", "web")[1]
    assert one(upstream, "server")[0] == ["web:3000"]
    assert one(server, "listen")[0] == ["3000"]
    for path in ("/", "/ws"):
        assert one(one(server, "location", path)[1], "proxy_pass")[0] == ["http://web"]
    assert one(http, "server_tokens")[0] == ["off"]


def test_proxy_limits_body_size_and_slow_clients(conf, server):
    assert one(server, "client_max_body_size")[0] == ["1m"]
    assert seconds(one(server, "client_body_timeout")[0][0]) == 10
    assert seconds(one(server, "client_header_timeout")[0][0]) == 10
    # After a 413 the rest of a body is discarded for no longer than the body timeout.
    assert seconds(one(server, "lingering_timeout")[0][0]) <= 10
    assert seconds(one(server, "lingering_time")[0][0]) <= 10
    # nginx reads the whole body before contacting daphne (its default; never switched off).
    assert "proxy_request_buffering" not in {name for name, _, _ in walk(conf)}


def test_proxy_replaces_forwarded_headers_and_keeps_the_host(server):
    headers = {args[0].lower(): args[1] for args, _ in directives(server, "proxy_set_header")}
    # Replaced, not appended to: a client cannot name another address or claim HTTPS.
    assert headers["x-forwarded-for"] == "$remote_addr"
    assert headers["x-forwarded-proto"] == "$scheme"
    assert headers["host"] == "$http_host"  # with the port: CSRF and /ws compare it to Origin
    for _, location in directives(server, "location"):
        assert not directives(location, "proxy_set_header"), "would drop the server's headers"


def test_proxy_passes_websocket_upgrades_with_long_timeouts(conf, server):
    http = one(conf, "http")[1]
    upgrade_map = one(http, "map", "$http_upgrade", "$connection_upgrade")[1]
    assert dict((name, args[0]) for name, args, _ in upgrade_map) == {"default": "upgrade", "": ""}
    headers = {args[0].lower(): args[1] for args, _ in directives(server, "proxy_set_header")}
    assert headers["upgrade"] == "$http_upgrade"
    assert headers["connection"] == "$connection_upgrade"
    assert one(server, "proxy_http_version")[0] == ["1.1"]
    ws = one(server, "location", "/ws")[1]
    assert seconds(one(ws, "proxy_read_timeout")[0][0]) >= 3600
    assert seconds(one(ws, "proxy_send_timeout")[0][0]) >= 3600


@pytest.mark.django_db
def test_django_refuses_bodies_over_its_own_limit(client):
    """Behind the proxy too: what reaches daphne directly is bounded by Django's limits."""
    from django.conf import settings

    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == MIB
    body = "username=a&password=" + "x" * MIB
    response = client.post("/admin/login/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    fields = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = client.post(
        "/admin/login/", fields, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    # Within the limits the same form is served (a failed login: 200 with the form again).
    response = client.post(
        "/admin/login/", "username=a&password=b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200


# --- The running proxy ----------------------------------------------------------------------------

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Upstream(BaseHTTPRequestHandler):
    """Records every request that reaches it; answers JSON, or echoes WebSocket text frames."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _record(self) -> None:
        self.server.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        )

    def do_GET(self):
        self._record()
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self._websocket()
        self._reply({"ok": True})

    def do_POST(self):
        self._record()
        length = int(self.headers.get("Content-Length", 0))
        self._reply({"read": len(self.rfile.read(length))})

    def _reply(self, data: dict) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _websocket(self) -> None:
        accept = base64.b64encode(
            hashlib.sha1((self.headers["Sec-WebSocket-Key"] + _WS_GUID).encode()).digest()
        ).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:  # client frames are small and masked; echo text, answer close
            head = self.rfile.read(2)
            if len(head) < 2:
                break
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(self.rfile.read(2), "big")
            mask = self.rfile.read(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            self.wfile.write(bytes([0x80 | opcode, len(payload)]) + payload)
            self.wfile.flush()
            if opcode == 0x8:
                break
        self.close_connection = True


def _copy_for_test(folder: Path, *, port: int, upstream: int) -> Path:
    """The real file, with local ports, paths in ``folder`` and TEST_TIMEOUT_S timeouts. Every
    substitution must match exactly once, so a change to the file cannot slip past this test."""
    text = NGINX_CONF.read_text()
    replacements = [
        (r"^user \S+;\n", ""),
        (r"^error_log \S+", f"error_log {folder}/error.log"),
        (r"^pid \S+;", f"pid {folder}/nginx.pid;"),
        (r"access_log \S+ masked;", f"access_log {folder}/access.log masked;"),
        (r"server web:3000;", f"server 127.0.0.1:{upstream};"),
        (r"listen 3000;", f"listen 127.0.0.1:{port};"),
        (r"client_body_timeout 10s;", f"client_body_timeout {TEST_TIMEOUT_S}s;"),
        (r"client_header_timeout 10s;", f"client_header_timeout {TEST_TIMEOUT_S}s;"),
        (
            r"^http \{\n",
            "http {\n"
            + "".join(
                f"    {kind}_temp_path {folder}/{kind};\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            ),
        ),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text, flags=re.M)
        assert count == 1, f"{pattern!r} matched {count} times in {NGINX_CONF}"
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


@pytest.fixture
def proxy():
    """nginx with the test copy in front of the recording upstream; both stopped afterwards."""
    if NGINX is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the proxy test: nginx is missing (make test-system-deps)")
        pytest.skip(
            "nginx is not installed: `apt-get install -y nginx` (Debian's package; "
            "`make test` installs it when CI=true)"
        )
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    upstream.daemon_threads = True
    upstream.seen = []
    serving = threading.Thread(target=upstream.serve_forever, daemon=True)
    serving.start()
    folder = Path(tempfile.mkdtemp(prefix="sm-proxy-"))
    folder.chmod(0o755)  # nginx's workers run as `nobody` when the test runs as root
    port = free_port()
    process = None
    try:
        conf = _copy_for_test(folder, port=port, upstream=upstream.server_address[1])
        checked = subprocess.run(
            [NGINX, "-t", "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen(
            [
                NGINX,
                "-p",
                str(folder),
                "-e",
                str(folder / "error.log"),
                "-c",
                str(conf),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)
        yield port, upstream.seen
    finally:
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGTERM)  # fast shutdown
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        upstream.shutdown()
        upstream.server_close()
        shutil.rmtree(folder, ignore_errors=True)


def _exchange(port: int, data: bytes, *, wait: float = 30) -> tuple[bytes, float | None, float]:
    """Send ``data`` and read until nginx closes the connection: what came back, the seconds
    until its first byte (None if nothing came) and until the connection was closed."""
    started = time.monotonic()
    answer, first = b"", None
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # nginx may close while a refused body is still being sent
        try:
            while chunk := sock.recv(65536):
                first = first if first is not None else time.monotonic() - started
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer, first, time.monotonic() - started


def _post(length: int, host: str = "example.test") -> bytes:
    return (
        f"POST /admin/login/ HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n"
    ).encode()


@pytest.mark.e2e
@pytest.mark.slow  # about 10 s: two timeouts and a lingering close
def test_the_proxy_enforces_limits_and_passes_websockets(proxy):
    port, seen = proxy

    # An ordinary request reaches the upstream with the forwarded headers set by the proxy;
    # those the client sent are replaced.
    answer, _, _ = _exchange(
        port,
        b"GET /api/v1/time HTTP/1.1\r\nHost: localhost:3000\r\n"
        b"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert len(seen) == 1
    headers = seen[0]["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["host"] == "localhost:3000"

    # A body within the limit is passed on whole.
    answer, _, _ = _exchange(port, _post(1000) + b"x" * 1000)
    assert answer.startswith(b"HTTP/1.1 200") and b'{"read": 1000}' in answer, answer[:300]
    assert len(seen) == 2

    # A 2 MB body: 413 from the proxy at once, nothing reaches the upstream.
    answer, first, _ = _exchange(port, _post(2 * MIB) + b"x" * (2 * MIB))
    assert answer.startswith(b"HTTP/1.1 413") and first < 1, (answer[:200], first)
    # Declaring 1 GB and sending 1 KB: 413 at once, and the connection closed within the
    # configured body timeout (10 s; nginx discards what follows for up to lingering_timeout).
    answer, first, closed = _exchange(port, _post(1024**3) + b"x" * 1024)
    assert answer.startswith(b"HTTP/1.1 413") and first < 1, (answer[:200], first)
    assert closed <= 10 + 1, closed
    # A body within the limit that stalls after 1 KB: cut off after the body timeout.
    answer, _, closed = _exchange(port, _post(MIB // 2) + b"x" * 1024)
    assert TEST_TIMEOUT_S - 0.5 <= closed <= TEST_TIMEOUT_S + 3, closed
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    # Headers that stall half-way: cut off after the header timeout.
    answer, _, closed = _exchange(port, b"GET / HTTP/1.1\r\nHost: example.test\r\nX-Slow: ")
    assert TEST_TIMEOUT_S - 0.5 <= closed <= TEST_TIMEOUT_S + 3, closed
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert len(seen) == 2, f"refused requests reached the upstream: {seen[2:]}"

    # A WebSocket upgrade passes through, both ways.
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{port}/ws", close_timeout=5, open_timeout=10) as ws:
        ws.send("ping through the proxy")
        assert ws.recv(timeout=10) == "ping through the proxy"
    upgrade = seen[-1]
    assert upgrade["path"] == "/ws"
    assert upgrade["headers"]["upgrade"].lower() == "websocket"
    assert "upgrade" in upgrade["headers"]["connection"].lower()
    assert upgrade["headers"]["x-forwarded-for"] == "127.0.0.1"


def test_the_access_log_masks_an_api_key_in_the_query():
    """The ``map`` that masks ``?apiKey=`` in the logged request line (PCRE; checked here with
    Python's ``re``, which names groups ``(?P<...>)``)."""
    text = NGINX_CONF.read_text()
    pattern, value = re.search(r'"~\*(\^.*\$)" "(.*)";', text).groups()
    regex = re.compile(pattern.replace("(?<", "(?P<"), re.IGNORECASE)

    def logged(request: str) -> str:
        match = regex.match(request)
        if match is None:
            return request
        return value.replace("${masked_head}", match["masked_head"]).replace(
            "${masked_tail}", match["masked_tail"]
        )

    assert logged("GET /v3/trades/SYNTH?apiKey=sm_secret&limit=5 HTTP/1.1") == (
        "GET /v3/trades/SYNTH?apiKey=***&limit=5 HTTP/1.1"
    )
    assert logged("GET /v1/marketstatus/now?apikey=sm_secret HTTP/1.1") == (
        "GET /v1/marketstatus/now?apikey=*** HTTP/1.1"
    )
    assert logged("GET /api/v1/tickers HTTP/1.1") == "GET /api/v1/tickers HTTP/1.1"
    assert "access_log /var/log/nginx/access.log masked;" in text
