"""``make superuser``: interactive in a terminal; without one, from DJANGO_SUPERUSER_* variables,
or a clear error naming them (Django alone says "skipped" and exits 0)."""

import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
VENV_MARK = ROOT / ".venv" / "bin" / ".installed"
pytestmark = pytest.mark.slow


@pytest.fixture
def throwaway_database():
    s = connection.settings_dict
    server = f"postgresql://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    name = f"sm_superuser_{uuid.uuid4().hex[:8]}"
    yield f"{server}/{name}".replace("postgresql://", "postgres://")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_superuser(database_url: str, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SUPERUSER_")}
    environ.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings.local", **env)
    # -o: the virtualenv counts as installed (a test never reinstalls it).
    return subprocess.run(
        ["make", "-s", "-o", str(VENV_MARK), "superuser"],
        cwd=ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_without_a_terminal_it_says_how_and_fails(throwaway_database):
    result = make_superuser(throwaway_database)
    assert result.returncode != 0
    assert "no terminal to ask for a password" in result.stderr
    assert "DJANGO_SUPERUSER_USERNAME=admin DJANGO_SUPERUSER_EMAIL=" in result.stderr
    assert "skipped" not in result.stdout + result.stderr


def test_with_the_variables_it_creates_the_user(throwaway_database):
    result = make_superuser(
        throwaway_database,
        DJANGO_SUPERUSER_USERNAME="boss",
        DJANGO_SUPERUSER_EMAIL="boss@example.com",
        DJANGO_SUPERUSER_PASSWORD="a long and unguessable passphrase",
    )
    assert result.returncode == 0, result.stderr
    assert "Superuser boss created: sign in at /admin/." in result.stdout
    with psycopg.connect(throwaway_database.replace("postgres://", "postgresql://")) as conn:
        row = conn.execute("SELECT is_superuser, email FROM auth_user WHERE username = 'boss'")
        assert row.fetchone() == (True, "boss@example.com")
