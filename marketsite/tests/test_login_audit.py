"""The admin login: locked out per username and client IP after LOGIN_FAILURE_LIMIT failures
(django-axes, the client IP as the rate limiter sees it), every failure logged without the
password, and Django's password validators on."""

import logging

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import (
    get_default_password_validators,
    validate_password,
)
from django.core.exceptions import ValidationError

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct-Horse-battery-9"
WRONG = "wrong-Guess-4711"


@pytest.fixture
def staff():
    return User.objects.create_user("ops", password=PASSWORD, is_staff=True, is_superuser=True)


def login(client, password, *, ip="203.0.113.7", username="ops", **headers):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **headers
    )


def test_five_failures_lock_the_username_out_from_that_ip(client, staff, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    statuses = [login(client, WRONG).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the form again, then locked at the fifth
    locked = login(client, PASSWORD)  # the right password changes nothing now
    assert locked.status_code == 429
    assert b"too many" in locked.content.lower() or b"locked" in locked.content.lower()
    # Another client may still sign in as ops, and ops is not a different user from there.
    assert login(client, PASSWORD, ip="198.51.100.9").status_code == 302


def test_a_success_before_the_limit_resets_the_count(client, staff):
    for _ in range(4):
        assert login(client, WRONG).status_code == 200
    assert login(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert login(client, WRONG).status_code == 200
    assert login(client, PASSWORD).status_code == 302


def test_behind_a_proxy_the_forwarded_client_is_locked_out(client, staff, settings):
    """The client IP comes from api.throttling.client_ip: with API_NUM_PROXIES=1 the proxy's
    X-Forwarded-For entry, not the proxy's own address."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.2"
    for _ in range(5):
        login(client, WRONG, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.50")
    assert login(client, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.50").status_code == 429
    assert login(client, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.51").status_code == 302


def test_a_failed_login_is_logged_without_the_password(client, staff, caplog):
    caplog.set_level(logging.INFO)
    login(client, WRONG)
    lines = [
        (r.name, r.levelname, r.getMessage())
        for r in caplog.records
        if r.name == "marketsite.login"
    ]
    assert lines == [
        (
            "marketsite.login",
            "WARNING",
            "failed login for username 'ops' from 203.0.113.7 on /admin/login/",
        )
    ]
    assert all(WRONG not in r.getMessage() and WRONG not in str(r.__dict__) for r in caplog.records)


def test_the_standard_password_validators_are_on():
    assert [type(v).__name__ for v in get_default_password_validators()] == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    with pytest.raises(ValidationError) as refused:
        validate_password("password")
    assert refused.value.messages == [
        "This password is too short. It must contain at least 12 characters.",
        "This password is too common.",
    ]
    with pytest.raises(ValidationError):
        validate_password("123456789012")
    validate_password(PASSWORD)  # accepted


def test_the_admin_refuses_a_weak_password_for_a_new_user(admin_client):
    response = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "newbie",
            "password1": "password",
            "password2": "password",
            "usable_password": "true",
        },
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="newbie").exists()
    assert "This password is too common." in response.content.decode()
