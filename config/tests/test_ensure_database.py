"""``python -m config.ensure_database``: create the configured database when it is missing."""

import json
import os
import uuid

import psycopg
import pytest
from psycopg import sql

from config import ensure_database as module
from config.ensure_database import ensure_database, main

# The session's server: DATABASE_URL, or the embedded one the test session started.
SERVER = os.environ["DATABASE_URL"].rsplit("/", 1)[0]


def _exists(name: str) -> bool:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


@pytest.fixture
def new_database_name():
    """A database name nobody uses; the database is dropped afterwards if a test created it."""
    name = f"sm_test_ensure_{uuid.uuid4().hex[:12]}"
    assert not _exists(name)
    try:
        yield name
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def test_creates_a_missing_database_once(new_database_name):
    url = f"{SERVER}/{new_database_name}"
    assert ensure_database(url) is True
    assert _exists(new_database_name)
    with psycopg.connect(url) as conn:  # and it is usable
        assert conn.execute("SELECT current_database()").fetchone() == (new_database_name,)
    assert ensure_database(url) is False
    assert _exists(new_database_name)


def test_names_needing_quotes_are_created_as_given(new_database_name):
    name = new_database_name + "-Mixed"
    try:
        assert ensure_database(f"{SERVER}/{name}") is True
        assert _exists(name)
        assert ensure_database(f"{SERVER}/{name}") is False
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def test_an_existing_database_is_left_alone():
    assert ensure_database(f"{SERVER}/postgres") is False


def test_unreachable_server_raises(closed_port):
    with pytest.raises(psycopg.OperationalError):
        ensure_database(f"postgres://postgres@127.0.0.1:{closed_port}/sm_test_ensure_unreachable")


def test_main_creates_then_reports_exists(monkeypatch, capsys, new_database_name):
    monkeypatch.setenv("DATABASE_URL", f"{SERVER}/{new_database_name}")
    assert main() == 0
    assert capsys.readouterr().out == f"database {new_database_name}: created\n"
    assert main() == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (f"database {new_database_name}: exists\n", "")


def test_main_explains_an_unreachable_server(monkeypatch, capsys, closed_port):
    monkeypatch.setenv("DATABASE_URL", f"postgres://postgres@127.0.0.1:{closed_port}/whatever")
    assert main() == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0].startswith("Cannot reach PostgreSQL for DATABASE_URL: ")
    assert str(closed_port) in captured.err  # psycopg's reason names the address it tried
    assert lines[-1] == "Start PostgreSQL or set DATABASE_URL (see README)."
    assert "Traceback" not in captured.err


def _no_env_file(monkeypatch):
    # A developer's .env may set DATABASE_URL; these tests are about what happens without it.
    monkeypatch.setattr(module.services, "read_dotenv", lambda *a, **k: False)


def test_main_without_url_uses_the_running_embedded_server(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("EMBEDDED_DATA_DIR", str(tmp_path))
    _no_env_file(monkeypatch)
    embedded = "postgres://postgres@127.0.0.1:15999/synthetic_market"
    (tmp_path / "services.json").write_text(
        json.dumps(
            {"pid": os.getpid(), "database_url": embedded, "redis_url": "redis://127.0.0.1:16999/0"}
        )
    )
    seen = []
    monkeypatch.setattr(module, "ensure_database", lambda url: seen.append(url) or False)
    assert main() == 0
    assert seen == [embedded]


def test_main_without_url_or_embedded_server_says_what_to_do(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("EMBEDDED_DATA_DIR", str(tmp_path))  # nothing running there
    _no_env_file(monkeypatch)
    monkeypatch.setattr(module, "ensure_database", lambda url: pytest.fail("must not connect"))
    assert main() == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "DATABASE_URL is not set and no embedded PostgreSQL is running: "
        "use `make run`, or run this under "
        "`python -m config.supervisor -- ...`."
    ]
