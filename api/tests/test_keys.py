"""API keys: created in the admin and shown once, stored hashed, revoked; required only with
API_KEYS_REQUIRED; the dashboard token and staff sessions; ``verify_key`` for /ws."""

import re
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from rest_framework import status

from api import keys
from api.keys import api_key_create, key_digest, verify_key
from api.models import ApiKey
from marketsite.tokens import dashboard_token_issue

pytestmark = pytest.mark.django_db

MISSING = {"success": False, "error": {
    "code": "authentication_required",
    "message": "An API key is required: send it as the X-API-Key header or as "
               "Authorization: Bearer <key>."}}
INVALID = {"success": False, "error": {
    "code": "invalid_api_key", "message": "The API key is not valid (unknown or revoked)."}}


@pytest.fixture
def required(settings):
    settings.API_KEYS_REQUIRED = True


@pytest.fixture
def admin_client(client):
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_the_admin_creates_a_key_shows_it_once_and_stores_a_hash(admin_client):
    response = admin_client.post("/admin/api/apikey/add/", {"name": "charting bot"})
    assert response.status_code == status.HTTP_200_OK
    assert "no-store" in response["Cache-Control"]
    raw = re.search(rb'value="(sm_[A-Za-z0-9_-]{43})"', response.content)[1].decode()
    stored = ApiKey.objects.get()
    assert stored.name == "charting bot" and stored.key_hash == key_digest(raw)
    assert stored.prefix == raw[:11]
    for value in ApiKey.objects.values_list().get():
        assert raw not in str(value)
    page = admin_client.get(f"/admin/api/apikey/{stored.pk}/change/")
    assert raw.encode() not in page.content and stored.prefix.encode() in page.content
    assert verify_key(raw)


def test_the_admin_revokes_keys(admin_client):
    key, raw = api_key_create(name="old")
    response = admin_client.post("/admin/api/apikey/", {
        "action": "revoke", "_selected_action": [key.pk]}, follow=True)
    assert b"1 key(s) revoked." in response.content
    key.refresh_from_db()
    assert key.revoked_at is not None and not verify_key(raw)


@pytest.mark.usefixtures("required")
def test_required_keys_missing(client):
    response = client.get("/api/v1/tickers")
    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == MISSING


@pytest.mark.usefixtures("required")
@pytest.mark.parametrize("header", ["HTTP_X_API_KEY", "HTTP_AUTHORIZATION"])
def test_required_keys_sent_either_way(client, header):
    _, raw = api_key_create(name="bot")
    value = raw if header == "HTTP_X_API_KEY" else f"Bearer {raw}"
    assert client.get("/api/v1/tickers", **{header: value}).status_code == status.HTTP_200_OK


@pytest.mark.usefixtures("required")
@pytest.mark.parametrize("value", ["sm_wrong", "x" * 5000, "é", "Bearer ", ""])
def test_required_keys_wrong(client, value):
    response = client.get("/api/v1/quote/SYNTH", HTTP_X_API_KEY=value)
    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.json() in (MISSING, INVALID)


@pytest.mark.usefixtures("required")
def test_a_revoked_key_is_refused(client):
    key, raw = api_key_create(name="bot")
    assert client.get("/api/v1/time", HTTP_X_API_KEY=raw).status_code == status.HTTP_200_OK
    keys.api_key_revoke(keys=ApiKey.objects.filter(pk=key.pk))
    assert client.get("/api/v1/time", HTTP_X_API_KEY=raw).json() == INVALID


def test_keys_are_optional_by_default_but_a_wrong_one_is_refused(client):
    assert client.get("/api/v1/tickers").status_code == status.HTTP_200_OK
    assert client.get("/api/v1/tickers", HTTP_AUTHORIZATION="Bearer nope").json() == INVALID
    # Other authorization schemes are none of the API's business.
    assert client.get("/api/v1/tickers", HTTP_AUTHORIZATION="Basic eDp5").status_code == 200


@pytest.mark.usefixtures("required")
def test_the_dashboard_token_when_keys_are_required(client):
    token = dashboard_token_issue()
    assert client.get("/api/v1/tickers", HTTP_X_DASHBOARD_TOKEN=token).status_code == 200
    response = client.get("/api/v1/tickers", HTTP_X_DASHBOARD_TOKEN=token + "x")
    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.json()["error"]["code"] == "invalid_token"


def test_a_stale_dashboard_token_is_ignored_when_keys_are_optional(client):
    assert client.get("/api/v1/tickers", HTTP_X_DASHBOARD_TOKEN="stale").status_code == 200


@pytest.mark.usefixtures("required")
def test_staff_may_browse_without_a_key(client):
    client.force_login(User.objects.create_user("staff", password="pw", is_staff=True))
    assert client.get("/api/v1/tickers", HTTP_ACCEPT="text/html").status_code == 200
    client.force_login(User.objects.create_user("user", password="pw"))
    assert client.get("/api/v1/tickers").status_code == status.HTTP_403_FORBIDDEN


@pytest.mark.usefixtures("required")
def test_the_schema_and_docs_stay_public(client):
    assert client.get("/api/v1/schema/").status_code == status.HTTP_200_OK
    assert client.get("/api/v1/docs/").status_code == status.HTTP_200_OK


def test_verify_key_for_the_websocket(settings):
    _, raw = api_key_create(name="ws")
    assert verify_key(raw) is True
    assert verify_key("sm_" + "a" * 43) is False
    assert verify_key("") is False and verify_key("\x00") is False


def test_lookups_are_cached_outside_transactions(monkeypatch, django_assert_num_queries):
    _, raw = api_key_create(name="cached")
    monkeypatch.setattr("api.keys.connection", SimpleNamespace(in_atomic_block=False))
    with django_assert_num_queries(1):
        assert keys.key_lookup(raw) is not None
        assert keys.key_lookup(raw) is not None
