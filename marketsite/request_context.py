"""The current request's id, for log lines: set by ``marketsite.middleware.RequestIdMiddleware``
through a context variable, so it also reaches lines written from async code and libraries.

``RequestIdFilter`` puts it on every record; the settings name it for ``config.logging``'s
console handler (``REQUEST_ID_FILTER``), which imports no app."""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds the current request id (``-`` outside a web request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True
