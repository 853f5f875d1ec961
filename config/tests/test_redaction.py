"""No password from DATABASE_URL or REDIS_URL on a debug page, in an error report or a log line,
and the development server bound to loopback unless HOST says otherwise.

The pages are rendered by Django's own debug machinery (``technical_500_response``, the page a
``make run`` with DEBUG on answers to any error, a foreign Host header included) in a fresh
process with the local settings and URLs holding passwords.
"""

import json
import logging
import subprocess
from pathlib import Path

import pytest

from config.redaction import redact_urls

from .test_settings import _clean_env, _run, project  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]
DB_PASSWORD = "Db-s3cret-Pw"
REDIS_PASSWORD = "Redis-s3cret-Pw"
URLS = {
    "DATABASE_URL": f"postgres://market:{DB_PASSWORD}@db.internal:6543/othermarket",
    "REDIS_URL": f"redis://:{REDIS_PASSWORD}@cache.internal:6380/3",
}

# Renders the debug page of an error raised with both URLs in a local variable and in the
# exception's message, the plain-text report, and logs the error through the settings' logging.
RENDER = """
import json, logging, sys, django
django.setup()
from django.conf import settings
from django.test import RequestFactory
from django.views.debug import get_exception_reporter_class, technical_500_response

request = RequestFactory().get("/admin/", HTTP_HOST="evil.example")

def fails():
    urls = [settings.DATABASES["default"], settings.REDIS_URL]
    raise ConnectionError(f"cannot reach {settings.REDIS_URL}")

try:
    fails()
except ConnectionError:
    info = sys.exc_info()
page = technical_500_response(request, *info).content.decode()
text = get_exception_reporter_class(request)(request, *info).get_traceback_text()
logging.getLogger("django.request").error("Internal Server Error: %s", settings.CELERY_BROKER_URL,
                                          exc_info=info)
print(json.dumps({"debug": settings.DEBUG, "page": page, "text": text}))
"""


def test_no_password_on_the_debug_page_in_reports_or_logs(project):  # noqa: F811
    result = _run(
        project,
        ["-c", RENDER],
        DJANGO_SETTINGS_MODULE="config.settings.local",
        LOG_FORMAT="text",
        **URLS,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["debug"] is True
    for where in (out["page"], out["text"], result.stderr):
        assert DB_PASSWORD not in where
        assert REDIS_PASSWORD not in where
    # The URLs are still shown, without their passwords: the check above can fail.
    redacted_redis = "redis://:***@cache.internal:6380/3"
    assert redacted_redis in out["page"] and redacted_redis in out["text"]
    assert "cannot reach redis://:***@cache.internal:6380/3" in out["page"]
    assert f"Internal Server Error: {redacted_redis}" in result.stderr
    assert f"ConnectionError: cannot reach {redacted_redis}" in result.stderr
    assert "SERVICES" not in out["page"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgres://u:pw@h:5432/db", "postgres://u:***@h:5432/db"),
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        (
            "rediss://default:p%40ss@h/0 and amqp://a:b@c/",
            "rediss://default:***@h/0 and amqp://a:***@c/",
        ),
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("unix:///tmp/x.sock", "unix:///tmp/x.sock"),
        ("http://h:3000/path@x", "http://h:3000/path@x"),
    ],
)
def test_redact_urls(text, expected):
    assert redact_urls(text) == expected


def test_the_log_filter_redacts_messages_and_exceptions(caplog):
    from config.logging import RedactCredentialsFilter

    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "connecting to %s", (URLS["REDIS_URL"],), None
    )
    RedactCredentialsFilter().filter(record)
    assert logging.Formatter().format(record) == "connecting to redis://:***@cache.internal:6380/3"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_make_run_binds_the_web_socket_to_host(host, tmp_path):
    """supervisord binds the web socket (daphne serves it with ``--fd 0``) to HOST."""
    from config.procman import build_config

    config = build_config(host=host, port=3000, folder=tmp_path)
    assert f"socket=tcp://{host}:3000" in config.splitlines()


@pytest.mark.parametrize("host, seen", [(None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0")])
def test_make_exports_host_to_the_processes(host, seen):
    """What ``make run``'s process manager (config.procman) finds in HOST: loopback unless set."""
    env = _clean_env(**({"HOST": host} if host else {}))
    if host is None:
        env.pop("HOST", None)
    result = subprocess.run(
        [
            "make",
            "-s",
            "-f",
            str(ROOT / "Makefile"),
            "--eval",
            "print-host: ; @echo $$HOST",
            "print-host",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert result.stdout == f"{seen}\n"
