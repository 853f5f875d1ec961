"""The one owner of credentials: API keys (``ticks.api_keys``, model ``ticks.models.ApiKey``)
and the dashboard's stream tokens (``ticks.stream_tokens``)."""

import pytest
from django.core import signing

from ticks import api_keys, stream_tokens
from ticks.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    api_keys.reset_cache()
    yield
    api_keys.reset_cache()


def test_a_key_is_stored_hashed_and_looked_up_by_its_digest():
    key, raw = api_keys.api_key_create(name="bot")
    assert raw.startswith("sm_") and len(raw) == 46
    assert key.key_hash == api_keys.key_digest(raw) and key.prefix == raw[:11]
    assert api_keys.key_lookup(raw) == key.pk and api_keys.key_active(key.pk)
    assert api_keys.key_lookup("sm_" + "x" * 43) is None
    assert api_keys.key_lookup("é") is None and api_keys.key_lookup(None) is None


def test_a_vendor_key_pair_is_the_key_prefix_and_the_key():
    key, raw = api_keys.api_key_create(name="alpaca bot")
    assert api_keys.key_pair_lookup(key.prefix, raw) == key.pk
    assert api_keys.key_pair_lookup(raw[:11], raw) == key.pk
    other, other_raw = api_keys.api_key_create(name="other")
    assert api_keys.key_pair_lookup(other.prefix, raw) is None  # id of another key
    assert api_keys.key_pair_lookup(raw, raw) is None  # the id is the prefix, not the key
    assert api_keys.key_pair_lookup(key.prefix, raw + "x") is None
    assert (
        api_keys.key_pair_lookup(None, raw) is None
        and api_keys.key_pair_lookup(key.prefix, None) is None
    )
    api_keys.api_key_revoke(keys=ApiKey.objects.filter(pk=key.pk))
    assert api_keys.key_pair_lookup(key.prefix, raw) is None
    assert api_keys.key_pair_lookup(other.prefix, other_raw) == other.pk


@pytest.mark.parametrize("how", ["revoke", "delete"])
def test_revoked_keys_are_announced_after_the_commit_only(
    how, announced, django_capture_on_commit_callbacks
):
    gone, raw = api_keys.api_key_create(name="gone")
    api_keys.api_key_create(name="kept")
    change = api_keys.api_key_revoke if how == "revoke" else api_keys.api_key_delete
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert change(keys=ApiKey.objects.filter(pk=gone.pk)) == 1
    assert announced.revoked == []  # not committed yet
    for callback in callbacks:
        callback()
    assert announced.revoked == [gone.pk]
    assert api_keys.key_lookup(raw) is None and not api_keys.key_active(gone.pk)


def test_revoking_nothing_announces_nothing(announced, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert api_keys.api_key_revoke(keys=ApiKey.objects.none()) == 0
    assert announced.revoked == []


def test_stream_tokens_are_signed_read_only_and_expire(settings):
    token = stream_tokens.dashboard_token_issue()
    assert stream_tokens.dashboard_token_valid(token)
    assert (
        stream_tokens.dashboard_token_id(token)
        == signing.loads(token, salt=stream_tokens.SALT)["id"]
    )
    assert not stream_tokens.dashboard_token_valid(token[:-1] + "x")
    assert not stream_tokens.dashboard_token_valid(
        signing.dumps({"scope": "write", "id": "x"}, salt=stream_tokens.SALT)
    )
    settings.DASHBOARD_TOKEN_MAX_AGE_S = -1
    assert not stream_tokens.dashboard_token_valid(token)
