"""Credentials kept out of error pages and logs.

``DATABASE_URL`` and ``REDIS_URL`` may carry passwords (``postgres://user:pw@host/db``,
``redis://:pw@host:6379/0``), and the settings hold them in places whose names Django's debug
page does not hide (``REDIS_URL``, ``CACHES``, ``CHANNEL_LAYERS``, ``CELERY_BROKER_URL``).
``redact_urls`` replaces the password of every URL in a text; ``ExceptionReporterFilter``
(``DEFAULT_EXCEPTION_REPORTER_FILTER``) applies it to the settings, request metadata and frame
variables the debug page and error reports show, ``ExceptionReporter``
(``DEFAULT_EXCEPTION_REPORTER``) to the exception messages they quote; ``config.logging.RedactCredentialsFilter``
applies it to every log line.
"""

import re

from django.views.debug import ExceptionReporter as DjangoExceptionReporter
from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@  (user may be empty: redis://:password@host)
_URL_CREDENTIALS = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@\s/]*@")
MASK = "***"


def redact_urls(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m['head']}:{MASK}@", text)


def _redacted_value(value):
    """Strings redacted; any other value whose repr holds a credential becomes its redacted
    repr (a debug page shows the repr anyway)."""
    if isinstance(value, str):  # also lazy strings (str() them: the regex needs a real one)
        text = str(value)
        cleaned = redact_urls(text)
        return value if cleaned == text else cleaned
    if isinstance(value, (int, float, bool, type(None))):
        return value
    try:
        shown = repr(value)
    except Exception:  # a broken __repr__ must not break the error page
        return value
    cleaned = redact_urls(shown)
    return value if cleaned == shown else cleaned


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter (settings named like API, TOKEN, KEY, SECRET, PASS ... hidden), plus URL
    passwords removed from every other setting, request header and frame variable, and frame
    variables cleansed like settings (a local ``password``, or a connection's parameters with a
    ``password`` key, is hidden)."""

    def cleanse_setting(self, key, value):
        return _redacted_value(super().cleanse_setting(key, value))

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]


class ExceptionReporter(DjangoExceptionReporter):
    """Django's reporter, with URL passwords removed from the exception messages it shows (a
    connection error may quote its URL)."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if isinstance(data.get("exception_value"), str):
            data["exception_value"] = redact_urls(data["exception_value"])
        for frame in data.get("frames", []):
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = redact_urls(str(frame["exc_cause"]))
        return data
