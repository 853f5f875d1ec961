"""The log formats of config.logging (JSON in production, text in development): one object per
line, the request id on every line written during a request."""

import io
import json
import logging
import logging.config
import re
from datetime import datetime

import pytest
from django.conf import settings

from config.logging import build_logging
from marketsite.request_context import request_id_var

pytestmark = pytest.mark.django_db

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")  # uuid4().hex
ACCESS_LOGGER = "marketsite.requests"


@pytest.fixture
def json_stream():
    """A handler with ``build_logging(fmt="json")``'s formatter and filter, writing to a buffer.

    The formatter and filter are instantiated from the returned dict exactly as ``dictConfig``
    does, without reconfiguring the process's logging (dictConfig would close every handler).
    """
    config = build_logging(level="INFO", fmt="json", request_id_filter=settings.REQUEST_ID_FILTER)
    configurator = logging.config.DictConfigurator({})
    formatter = configurator.configure_formatter(dict(config["formatters"]["json"]))
    assert config["handlers"]["console"]["formatter"] == "json"
    assert config["handlers"]["console"]["filters"] == ["request_id", "redact_credentials"]

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    for name in config["handlers"]["console"]["filters"]:
        handler.addFilter(configurator.configure_filter(dict(config["filters"][name])))
    loggers = [logging.getLogger("marketsite.tests.json"), logging.getLogger(ACCESS_LOGGER)]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False
    try:
        yield stream
    finally:
        for lg, (level, propagate) in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate


def _json_lines(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _check_time(entry: dict) -> dict:
    """Check ``time`` is a timestamp and return the entry without it, for a whole-dict compare."""
    datetime.strptime(entry["time"], "%Y-%m-%d %H:%M:%S,%f")
    return {k: v for k, v in entry.items() if k != "time"}


def test_json_formatter_writes_one_object_per_line(json_stream):
    log = logging.getLogger("marketsite.tests.json")
    log.info("outside a request")
    token = request_id_var.set("req-9")
    try:
        log.warning("two\nlines in one record")
    finally:
        request_id_var.reset(token)
    first, second = _json_lines(json_stream)
    assert _check_time(first) == {
        "level": "INFO",
        "logger": "marketsite.tests.json",
        "request_id": "-",
        "message": "outside a request",
    }
    assert _check_time(second) == {
        "level": "WARNING",
        "logger": "marketsite.tests.json",
        "request_id": "req-9",
        "message": "two\nlines in one record",
    }


def test_access_log_in_json_has_the_request_fields(client, json_stream):
    response = client.get("/healthz", headers={"X-Request-ID": "json-1"})
    (entry,) = _json_lines(json_stream)
    assert isinstance(entry.pop("duration_ms"), float)
    assert _check_time(entry) == {
        "level": "INFO",
        "logger": ACCESS_LOGGER,
        "request_id": "json-1",
        "message": "GET /healthz 200",
        "method": "GET",
        "path": "/healthz",
        "status": 200,
    }
    assert response["X-Request-ID"] == "json-1"


def test_text_format_shows_the_request_id():
    config = build_logging(level="DEBUG", fmt="text")
    assert "[%(request_id)s]" in config["formatters"]["text"]["format"]
    assert config["handlers"]["console"]["formatter"] == "text"
    assert config["root"] == {"handlers": ["console"], "level": "DEBUG"}


def test_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT must be 'json' or 'text', not 'xml'"):
        build_logging(level="INFO", fmt="xml")
