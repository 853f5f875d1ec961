"""A whole live market for end-to-end tests: its own migrated database, the real processes
(``testsupport.stack.Stack``) on it, optionally an API key; stopped and removed however the test
ends. One place for what every end-to-end module used to repeat."""

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import environ
import psycopg
import redis
from psycopg import sql

from config.ensure_database import ensure_database
from testsupport.services import free_port
from testsupport.stack import ROOT, Stack

PROCESSES = ("generator", "worker", "beat", "web")


def private_database_url() -> str:
    """A database URL beside the session's, unique per call: two live markets (two workers, or
    a module resumed after another's test) never drop each other's database."""
    base = os.environ["DATABASE_URL"]  # set for the session (config.services)
    name = environ.Env.db_url_config(base)["NAME"]
    return base.rsplit("/", 1)[0] + f"/{name}_wse2e_{uuid.uuid4().hex[:8]}"


def drop_database(url: str) -> None:
    cfg = environ.Env.db_url_config(url)
    params = {
        "host": cfg.get("HOST") or None,
        "port": cfg.get("PORT") or None,
        "user": cfg.get("USER") or None,
        "password": cfg.get("PASSWORD") or None,
    }
    with psycopg.connect(
        dbname="postgres", autocommit=True, **{k: v for k, v in params.items() if v}
    ) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(cfg["NAME"]))
        )


def port_open(port: int) -> bool:
    """Something accepts connections on ``port`` (a stack's web port is open as soon as the
    stack binds it: ``web_answers`` says whether a daphne serves it)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def web_answers(port: int) -> bool:
    """A daphne on ``port`` answers ``/healthz`` (the port alone is open as soon as the stack
    binds it, before any daphne serves it)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
        + ["--settings=config.settings.test"],
        cwd=ROOT,
        check=True,
        timeout=300,
        env={**os.environ, "DATABASE_URL": database_url},
    )


def add_api_key(database_url: str, name: str) -> str:
    """A new active key in that database (written as the service writes one); its raw value."""
    from ticks.api_keys import new_key_material

    raw, prefix, digest = new_key_material()
    with psycopg.connect(
        database_url.replace("postgres://", "postgresql://"), autocommit=True
    ) as c:
        c.execute(
            "INSERT INTO api_apikey (name, prefix, key_hash, created_at) VALUES (%s, %s, %s, now())",
            (name, prefix, digest),
        )
    return raw


@dataclass
class LiveMarket:
    stack: Stack
    database_url: str
    redis: redis.Redis
    key: str | None  # a valid API key when the market was started with one

    @property
    def key_id(self) -> str:
        from ticks.api_keys import SHOWN_PREFIX_LENGTH

        assert self.key is not None
        return self.key[:SHOWN_PREFIX_LENGTH]

    @property
    def web_port(self) -> int:
        return self.stack.web_port

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.stack.web_port}{path}"

    def quoted(self, symbols: Sequence[str]) -> bool:
        key = f"{self.stack.redis_prefix}:quotes"
        return all(self.redis.hexists(key, s) for s in symbols)


@contextmanager
def live_market(
    *,
    symbols: Sequence[str] = ("SYNTH",),
    key: str | None = None,
    env: dict | None = None,
    processes: Sequence[str] = PROCESSES,
    prepare: Callable[[str], None] | None = None,
) -> Iterator[LiveMarket]:
    """The service running on a private migrated database, its first ticks of ``symbols`` in
    and daphne listening. ``key="name"`` adds an API key and requires keys; ``env`` is given to
    every process. ``prepare(database_url)`` runs after the migration, just before the
    processes start (to edit the tickers in that database, or to fill ``env`` at the last
    moment). Afterwards: processes stopped (all still alive, or the logs are the error), their
    Redis keys and the database removed."""
    from django.conf import settings

    database_url = private_database_url()
    drop_database(database_url)
    ensure_database(database_url)
    stack = None
    r = redis.Redis.from_url(settings.REDIS_URL)
    try:
        migrate(database_url)
        raw = add_api_key(database_url, key) if key else None
        if prepare is not None:
            prepare(database_url)
        stack = Stack(
            database_url=database_url,
            redis_url=settings.REDIS_URL,
            web_port=free_port(),
            env={**({"API_KEYS_REQUIRED": "true"} if key else {}), **(env or {})},
        ).start(*processes)
        market = LiveMarket(stack, database_url, r, raw)
        if "generator" in processes:
            stack.wait_for(lambda: market.quoted(symbols), timeout=60, what="the first ticks")
        if "web" in processes:
            stack.wait_for(lambda: web_answers(stack.web_port), timeout=60, what="daphne")
        yield market
        assert all(stack.alive().values()), stack.logs()
    finally:
        if stack is not None:
            stack.close()
            for name in r.scan_iter(match=f"{stack.redis_prefix}:*", count=1000):
                r.delete(name)
        drop_database(database_url)
