"""What the logs say once, not three times: a request gets one access line (a 4xx is not also a
django.request warning), and a missing optional .env no line at all. (A WebSocket's two lines,
on connect and on close: streaming/tests/test_consumers.py.)"""

import logging

import pytest

from config import services

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path,status",
    [
        ("/no/such/page", 404),
        ("/api/v1/nope", 404),
        ("/api/v1/quote/NOPE", 404),
        ("/api/v1/history/SYNTH?limit=0", 400),
    ],
)
def test_a_client_error_is_logged_once(client, caplog, path, status):
    caplog.set_level(logging.DEBUG)
    assert client.get(path).status_code == status
    lines = [r for r in caplog.records if path.split("?")[0] in r.getMessage()]
    assert [(r.name, r.getMessage()) for r in lines] == [
        ("marketsite.requests", f"GET {path.split('?')[0]} {status}")
    ]


def test_django_request_still_logs_server_errors():
    assert logging.getLogger("django.request").getEffectiveLevel() == logging.ERROR


def test_a_missing_dotenv_is_not_read_and_not_mentioned(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    assert services.read_dotenv(tmp_path / ".env") is False
    assert caplog.records == []
    (tmp_path / ".env").write_text("SM_TEST_DOTENV_VALUE=from-file\n")
    monkeypatch.delenv("SM_TEST_DOTENV_VALUE", raising=False)
    assert services.read_dotenv(tmp_path / ".env") is True
    import os

    assert os.environ.pop("SM_TEST_DOTENV_VALUE") == "from-file"
