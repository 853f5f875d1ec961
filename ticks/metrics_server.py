"""A small HTTP server of this host's metrics directory, for hosts without a web process
(Celery workers on other machines): ``manage.py metrics_server``.

It serves ``PROMETHEUS_MULTIPROC_DIR`` (what the host's generator and workers write) at
``/metrics`` through prometheus-client's public WSGI app, behind the same access rule as the web
endpoint (``ticks.metrics_access``: the client's address is the connection's, no proxy is
assumed). The pipeline's Redis gauges are left to the web endpoint, so the market's state is
not exported once per host.
"""

import socket
import socketserver
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from .metrics_access import metrics_refusal
from .metrics_export import scrape_registry

PATH = "/metrics"


def _text(start_response, status: str, message: str, headers: dict | None = None):
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), *(headers or {}).items()],
    )
    return [(message + "\n").encode()]


def metrics_app(path: str):
    """The WSGI app: ``/metrics`` of directory ``path`` for admitted clients."""
    exposition = make_wsgi_app(scrape_registry(pipeline=False, path=path))
    reasons = {401: "401 Unauthorized", 403: "403 Forbidden"}

    def app(environ, start_response):
        if environ.get("PATH_INFO") != PATH:
            return _text(start_response, "404 Not Found", f"not found: the metrics are at {PATH}")
        refusal = metrics_refusal(
            client_ip=environ.get("REMOTE_ADDR"), authorization=environ.get("HTTP_AUTHORIZATION")
        )
        if refusal is not None:
            return _text(start_response, reasons[refusal.status], refusal.message, refusal.headers)
        return exposition(environ, start_response)

    return app


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # Prometheus scrapes every few seconds
        pass


def metrics_server(*, path: str, port: int, bind: str) -> WSGIServer:
    """A server of ``path``'s metrics on ``bind:port`` (not yet serving: ``serve_forever``)."""
    server_class = _Server6 if ":" in bind else _Server
    return make_server(bind, port, metrics_app(path), server_class, handler_class=_QuietHandler)
