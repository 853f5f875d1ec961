"""Logging configuration: JSON lines in production, readable lines locally.

Every record carries a ``request_id`` (``-`` outside a web request), set by
``marketsite.middleware.RequestIdMiddleware`` through a context variable, so it also reaches log
lines written from async code and from libraries.
"""

import contextvars
import logging

from config.redaction import redact_urls

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RedactCredentialsFilter(logging.Filter):
    """Removes URL passwords from the message and the exception text of every record (a
    connection error may quote ``DATABASE_URL`` or ``REDIS_URL``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the formatter to report
            return True
        cleaned = redact_urls(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_urls(record.exc_text)
            record.exc_info = None  # formatters use exc_text, now redacted
        return True


def build_logging(*, level: str, fmt: str) -> dict:
    """Return a ``LOGGING`` dict; ``fmt`` is ``json`` or ``text``."""
    formatters = {
        "text": {
            "format": "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    }
    if fmt not in formatters:
        raise ValueError(f"LOG_FORMAT must be 'json' or 'text', not {fmt!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "config.logging.RequestIdFilter"},
            "redact_credentials": {"()": "config.logging.RedactCredentialsFilter"},
        },
        "formatters": formatters,
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["request_id", "redact_credentials"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's default handlers (an unfiltered console under DEBUG, mail_admins) removed:
            # its records reach the root handler, once, with credentials redacted.
            "django": {"level": level},
            # One line per request comes from our middleware; Django's own is noisier.
            "django.server": {"level": "WARNING"},
            "daphne": {"level": "WARNING" if level == "INFO" else level},
            "celery": {"level": level},
            # Ten beats a second: per-task lines would drown everything else.
            "celery.beat": {"level": "WARNING"},
            "celery.app.trace": {"level": "WARNING"},
            "celery.worker.strategy": {"level": "WARNING"},
            "celery.worker.request": {"level": "WARNING"},  # expired generation beats
        },
    }
