"""Request ids (``X-Request-ID``), the access log line, the middleware chain and NUL bytes in input
(the log formats themselves: config/tests/test_logging.py)."""

import logging
import logging.config
import re
from unittest import mock

import pytest

from marketsite.request_context import request_id_var

pytestmark = pytest.mark.django_db

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")  # uuid4().hex
ACCESS_LOGGER = "marketsite.requests"


@pytest.fixture
def access_log(caplog):
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    return caplog


def _access_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS_LOGGER]


# --- X-Request-ID ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,status",
    [
        ("get", "/healthz", 200),
        ("get", "/no-such-page", 404),
        ("post", "/healthz", 405),
        ("get", "/admin/", 302),  # redirect to the login page
    ],
)
def test_every_response_has_a_fresh_request_id(client, method, path, status):
    first = getattr(client, method)(path)
    second = getattr(client, method)(path)
    assert first.status_code == second.status_code == status
    assert GENERATED_ID.match(first["X-Request-ID"])
    assert GENERATED_ID.match(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize("incoming", ["abc", "Req-1.2_3", "a" * 64, "0" * 32])
def test_a_valid_incoming_request_id_is_reused(client, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "",
        "a" * 65,  # too long
        "bad id",  # space
        "id;drop",
        "<script>",
        "ïd",  # not ASCII
        "ab\ncd",  # a newline inside
        "abc\r\nX-Injected: 1",
    ],
    ids=["empty", "too-long", "space", "semicolon", "markup", "non-ascii", "newline", "crlf"],
)
def test_an_invalid_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.status_code == 200
    assert GENERATED_ID.match(response["X-Request-ID"])


def test_a_trailing_newline_is_not_a_valid_request_id(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc\n"})
    assert response.status_code == 200
    assert GENERATED_ID.match(response["X-Request-ID"])


def test_the_request_id_does_not_leak_past_the_request(client):
    client.get("/healthz", headers={"X-Request-ID": "leak-check"})
    assert request_id_var.get() == "-"


def test_under_asgi_the_request_id_and_access_line_work_too(async_client, access_log):
    """Daphne serves through Django's ASGI handler; the id and the access line work there too."""
    from asgiref.sync import async_to_sync

    response = async_to_sync(async_client.get)("/healthz", headers={"X-Request-ID": "async-1"})
    assert response.status_code == 200
    assert response["X-Request-ID"] == "async-1"
    (record,) = _access_records(access_log)
    assert record.request_id == "async-1"
    assert request_id_var.get() == "-"


# --- The access log -------------------------------------------------------------------------------


def test_one_access_line_per_request_carries_the_request_id(client, access_log):
    response = client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    records = _access_records(access_log)
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.INFO
    assert record.getMessage() == "GET /healthz 200"
    assert record.request_id == response["X-Request-ID"] == "trace-42"
    assert (record.method, record.path, record.status) == ("GET", "/healthz", 200)
    assert isinstance(record.duration_ms, float) and record.duration_ms >= 0


def test_a_generated_request_id_reaches_the_log_and_the_header(client, access_log):
    response = client.post("/readyz")
    (record,) = _access_records(access_log)
    assert record.getMessage() == "POST /readyz 405"
    assert record.request_id == response["X-Request-ID"]
    assert GENERATED_ID.match(record.request_id)


def test_log_lines_written_during_a_request_carry_its_id(client, access_log):
    """Not only the access line: anything logged while the view runs gets the same id."""

    def view_that_logs():
        logging.getLogger("marketsite.tests.inner").warning("checking")
        return {"ready": True, "checks": {}}

    with mock.patch("marketsite.views.readiness", side_effect=view_that_logs):
        response = client.get("/readyz", headers={"X-Request-ID": "inner-7"})
    inner = [r for r in access_log.records if r.name == "marketsite.tests.inner"]
    assert [r.request_id for r in inner] == ["inner-7"]
    assert response["X-Request-ID"] == "inner-7"


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/time"])
def test_under_asgi_the_middleware_chain_does_not_hop_threads_per_middleware(monkeypatch, path):
    """Django's middleware in async mode cost one thread hop per process_request/response (~30 a
    request); with SyncChainMiddleware last the whole chain runs in one thread. API responses
    come back rendered, so Django has no render step to hop for either."""
    from asgiref import sync
    from asgiref.sync import async_to_sync
    from django.core.handlers.asgi import ASGIHandler

    from testsupport.asgi import asgi_request

    hops = []
    real_call = sync.SyncToAsync.__call__

    async def counting_call(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await real_call(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counting_call)
    status, _, _ = async_to_sync(asgi_request)(ASGIHandler(), "GET", path)
    assert status == 200
    extra_hops = [
        h for h in hops if "process_request" in h or "process_response" in h or "render" in h
    ]
    assert extra_hops == [], extra_hops
    assert len(hops) <= 12, hops


# --- NUL bytes in input (the admin and every other page but the API) ---------------------------

TICKERS = "/admin/ticks/ticker/"
NUL_QUERIES = [
    "sector=%00",
    "sector=Tech%00nology",
    "is_active__exact=%00",
    "q=%00",
    "q=SY%00",
    "o=%00",
    "%00=1",
    "p=%00",
]


@pytest.mark.parametrize("query", NUL_QUERIES)
@pytest.mark.parametrize("path", [TICKERS, "/admin/api/apikey/", "/admin/auth/user/"])
def test_a_nul_byte_in_an_admin_list_query_is_a_clean_400(admin_client, path, query):
    response = admin_client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert b"Traceback" not in response.content and b"NUL" not in response.content


def test_the_list_filters_still_work_without_nul(admin_client):
    response = admin_client.get(f"{TICKERS}?sector=Technology")
    assert response.status_code == 200
    assert [t.symbol for t in response.context["cl"].result_list] == ["SYNTH", "TECH"]


def _ticker_form(**changes) -> dict:
    form = {
        "symbol": "NULCO",
        "name": "Nul Co",
        "sector": "Tech",
        "is_active": "on",
        "start_price": "10",
        "drift": "0",
        "volatility": "0.1",
        "min_price": "1",
        "max_price": "100",
        "tick_interval_ms": "100",
        "seed": "",
    }
    form.update(changes)
    return form


@pytest.mark.parametrize("field", ["symbol", "name", "sector", "start_price", "seed"])
def test_a_nul_byte_in_the_add_form_is_a_clean_400_and_adds_nothing(admin_client, field):
    from ticks.models import Ticker

    before = list(Ticker.objects.order_by("pk").values())
    response = admin_client.post(f"{TICKERS}add/", _ticker_form(**{field: "x\x00y"}))
    assert response.status_code == 400
    assert list(Ticker.objects.order_by("pk").values()) == before


@pytest.mark.parametrize("field", ["name", "sector", "drift"])
def test_a_nul_byte_in_the_change_form_is_a_clean_400_and_changes_nothing(admin_client, field):
    from ticks.models import Ticker

    synth = Ticker.objects.get(symbol="SYNTH")
    before = Ticker.objects.filter(pk=synth.pk).values().get()
    form = _ticker_form(
        **{"symbol": "SYNTH", "name": "Synthetic Corp", "sector": "Technology", field: "a\x00"}
    )
    response = admin_client.post(f"{TICKERS}{synth.pk}/change/", form)
    assert response.status_code == 400
    assert Ticker.objects.filter(pk=synth.pk).values().get() == before


def test_a_nul_byte_in_the_api_key_form_is_a_clean_400(admin_client):
    from api.models import ApiKey

    response = admin_client.post("/admin/api/apikey/add/", {"name": "bot\x00"})
    assert response.status_code == 400
    assert ApiKey.objects.count() == 0


def test_a_nul_byte_in_the_admin_login_is_a_clean_400(client):
    response = client.post("/admin/login/", {"username": "a\x00", "password": "x"})
    assert response.status_code == 400


def test_a_nul_byte_in_the_session_cookie_is_a_clean_400(client):
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    assert client.get("/admin/").status_code == 400
    assert client.get("/api/v1/time").status_code == 400


def test_a_nul_byte_in_the_path_is_a_clean_400(admin_client):
    assert admin_client.get(f"{TICKERS}%00/change/").status_code == 400


def test_the_api_reports_its_own_parameters_by_name(client):
    """Under /api/ the views validate their parameters and name them (see api/tests)."""
    body = client.get("/api/v1/history/SYNTH?start=%00").json()
    assert body["error"]["code"] == "invalid_date"
