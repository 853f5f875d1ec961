"""API keys (``ticks.api_keys``, the one owner of them): created in the admin and shown once,
stored hashed, revoked; required only with API_KEYS_REQUIRED; the dashboard token
(``ticks.stream_tokens``) and staff sessions; ``verify_key``."""

import re
import threading
import time

import pytest
from django.contrib.auth.models import User
from rest_framework import status

from api.models import ApiKey as AdminApiKey
from streaming.auth import KEY_REVOKED_MESSAGE_TYPE, key_group
from ticks import api_keys as keys
from ticks.api_keys import api_key_create, key_digest, verify_key
from ticks.models import ApiKey
from ticks.stream_tokens import dashboard_token_issue

pytestmark = pytest.mark.django_db

MISSING = {
    "success": False,
    "error": {
        "code": "authentication_required",
        "message": "An API key is required: send it as the X-API-Key header or as "
        "Authorization: Bearer <key>.",
    },
}
INVALID = {
    "success": False,
    "error": {
        "code": "invalid_api_key",
        "message": "The API key is not valid (unknown or revoked).",
    },
}


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
    response = admin_client.post(
        "/admin/api/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True
    )
    assert b"1 key(s) revoked." in response.content
    key.refresh_from_db()
    assert key.revoked_at is not None and not verify_key(raw)


class GroupListener:
    """A channel of the real (Redis) channel layer in the key groups of ``key_ids``."""

    def __init__(self, key_ids):
        from channels.layers import get_channel_layer

        self.layer, self.groups = get_channel_layer(), [key_group(i) for i in key_ids]

    async def messages(self, action, *, wait: float = 1.0) -> list[dict]:
        import asyncio

        from asgiref.sync import sync_to_async

        channel = await self.layer.new_channel()
        for group in self.groups:
            await self.layer.group_add(group, channel)
        received = []
        reader = asyncio.ensure_future(self._read(channel, received))
        try:
            await sync_to_async(action)()
            await asyncio.sleep(wait)
        finally:
            reader.cancel()
            for group in self.groups:
                await self.layer.group_discard(group, channel)
        return received

    async def _read(self, channel, received):
        while True:
            received.append(await self.layer.receive(channel))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("how", ["revoke action", "delete action", "delete page"])
def test_revoking_or_deleting_keys_in_the_admin_announces_it_to_their_sockets(client, how):
    from asgiref.sync import async_to_sync

    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    gone, _ = api_key_create(name="gone")
    kept, _ = api_key_create(name="kept")

    def act():
        if how == "delete page":
            response = client.post(f"/admin/api/apikey/{gone.pk}/delete/", {"post": "yes"})
        else:
            response = client.post(
                "/admin/api/apikey/",
                {
                    "action": "revoke" if how == "revoke action" else "delete_selected",
                    "_selected_action": [gone.pk],
                    "post": "yes",
                },
            )
        assert response.status_code == status.HTTP_302_FOUND

    listener = GroupListener([gone.pk, kept.pk])
    assert async_to_sync(listener.messages)(act) == [
        {"type": KEY_REVOKED_MESSAGE_TYPE, "key_id": gone.pk}
    ]
    assert list(ApiKey.objects.filter(revoked_at__isnull=True).values_list("name", flat=True)) == [
        "kept"
    ]


def test_key_active_reads_the_database_each_time():
    key, raw = api_key_create(name="k")
    assert keys.key_lookup(raw) == key.pk and keys.key_active(key.pk) is True
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2026-01-01T00:00Z")
    assert keys.key_active(key.pk) is False
    assert keys.key_active(key.pk + 1000) is False


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


@pytest.mark.usefixtures("required")
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_dashboard_token_is_read_only(client, method):
    token = dashboard_token_issue()
    response = getattr(client, method)("/api/v1/tickers", HTTP_X_DASHBOARD_TOKEN=token)
    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.json()["error"]["code"] == "invalid_token"
    assert client.head("/api/v1/tickers", HTTP_X_DASHBOARD_TOKEN=token).status_code == 200


@pytest.mark.usefixtures("required")
def test_each_dashboard_token_has_its_own_rate_limit(client, settings):
    settings.API_RATE_LIMIT_DASHBOARD = "2/minute"
    first, second = dashboard_token_issue(), dashboard_token_issue()
    assert [
        client.get("/api/v1/time", HTTP_X_DASHBOARD_TOKEN=first).status_code for _ in range(3)
    ] == [200, 200, 429]
    limited = client.get("/api/v1/time", HTTP_X_DASHBOARD_TOKEN=first)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited["X-RateLimit-Limit"] == "2"
    assert client.get("/api/v1/time", HTTP_X_DASHBOARD_TOKEN=second).status_code == 200


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


def test_lookups_are_cached(django_assert_num_queries):
    _, raw = api_key_create(name="cached")
    with django_assert_num_queries(1):
        assert keys.key_lookup(raw) is not None
        assert keys.key_lookup(raw) is not None


def test_a_revocation_empties_the_cache_at_once_and_again_on_commit(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    key, raw = api_key_create(name="cached")
    assert keys.key_lookup(raw) == key.pk
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        keys.api_key_revoke(keys=ApiKey.objects.filter(pk=key.pk))
    assert keys.key_lookup(raw) is None  # read again at once
    keys._cache[key_digest(raw)] = (key.pk, float("inf"))  # read by another thread meanwhile
    for callback in callbacks:
        callback()  # the commit
    assert keys.key_lookup(raw) is None


def test_the_admin_proxy_is_the_same_rows():
    key, _ = api_key_create(name="both")
    assert AdminApiKey._meta.proxy and AdminApiKey._meta.concrete_model is ApiKey
    assert AdminApiKey.objects.get().pk == key.pk
    assert ApiKey._meta.db_table == "api_apikey"


# --- A hung database: answer from the cache, or fail fast with 503 -----------------------------


HANG_S = 60


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("required")
def test_with_the_database_hung_a_known_key_answers_from_its_cache_and_an_unknown_one_503(
    client, monkeypatch
):
    _, raw = api_key_create(name="bot")
    _, unseen = api_key_create(name="other")
    keys.reset_cache()
    assert client.get("/api/v1/time", HTTP_X_API_KEY=raw).status_code == 200  # now cached
    for digest, (key_id, _) in list(keys._cache.items()):
        keys._cache[digest] = (key_id, 0.0)  # expired long ago
    release = threading.Event()
    # The read hangs far longer than the deadline: each request must answer at the deadline, not
    # when the read gives up (a bound with room for a loaded machine, far below the hang).
    monkeypatch.setattr(keys, "_read_key", lambda digest: release.wait(HANG_S) and None)
    try:
        started = time.monotonic()
        known = client.get("/api/v1/time", HTTP_X_API_KEY=raw)
        known_s = time.monotonic() - started
        started = time.monotonic()
        unknown = client.get("/api/v1/time", HTTP_X_API_KEY=unseen)
        unknown_s = time.monotonic() - started
    finally:
        release.set()
    assert known.status_code == 200 and known_s < HANG_S / 3
    assert unknown.status_code == 503 and unknown_s < HANG_S / 3
    assert unknown.json() == {
        "success": False,
        "error": {
            "code": "service_unavailable",
            "message": "The data store is unreachable; retry shortly.",
        },
    }
    assert unknown["Retry-After"] == "5"
