"""Logging configuration: JSON lines in production, readable lines locally.

Every record carries a ``request_id``: the filter named by ``request_id_filter`` sets it (the
settings pass the web app's, ``marketsite.request_context.RequestIdFilter``, by its dotted path
as they name middleware: this module imports no app); without one it is ``-``.
"""

import logging

from config.redaction import redact_urls


class NoRequestIdFilter(logging.Filter):
    """``request_id`` is ``-`` on records that have none (processes that serve no requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
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


def build_logging(
    *, level: str, fmt: str, request_id_filter: str = "config.logging.NoRequestIdFilter"
) -> dict:
    """Return a ``LOGGING`` dict; ``fmt`` is ``json`` or ``text``; ``request_id_filter`` the
    dotted path of the filter class that sets each record's ``request_id``."""
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
            "request_id": {"()": request_id_filter},
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
            # A 4xx is a client's mistake, and our access line already says it: only 5xx here.
            "django.request": {"level": "ERROR"},
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
