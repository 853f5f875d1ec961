"""One backfilled day behind a real daphne, for the end-to-end tests of the vendor dialects
(Alpaca, Massive): a private database with all five tickers at 1 tick/s over the last 24 hours,
an API key, daphne requiring keys; ``service`` (one per test module, from ``conftest``) removes
it however the tests end. ``Service`` also reads our own ``/api/v1`` answers to compare with."""

import json
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import environ
import psycopg
import pytest
import redis
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from config.ensure_database import ensure_database
from testsupport.live import drop_database, private_database_url
from testsupport.services import free_port
from testsupport.stack import ROOT, Stack

SYMBOLS = ["ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH"]
MANAGE = [sys.executable, "manage.py"]


def _connect(url: str, dbname: str | None = None):
    cfg = environ.Env.db_url_config(url)
    params = {
        "host": cfg.get("HOST") or None,
        "port": cfg.get("PORT") or None,
        "user": cfg.get("USER") or None,
        "password": cfg.get("PASSWORD") or None,
    }
    return psycopg.connect(
        dbname=dbname or cfg["NAME"],
        autocommit=True,
        **{k: v for k, v in params.items() if v},
    )


class Service:
    def __init__(self, stack: Stack, key: str, seeds: dict, end: datetime):
        self.stack, self.key, self.seeds, self.end = stack, key, seeds, end
        self.base = f"http://127.0.0.1:{stack.web_port}"
        self.key_id = key[:11]
        self.start = end - timedelta(hours=24)

    def data(self, **kwargs) -> StockHistoricalDataClient:
        return StockHistoricalDataClient(self.key_id, self.key, url_override=self.base, **kwargs)

    def trading(self) -> TradingClient:
        return TradingClient(self.key_id, self.key, paper=True, url_override=self.base)

    def v1(self, path: str, **params) -> dict:
        url = f"{self.base}/api/v1/{path}?{urlencode(params)}"
        request = urllib.request.Request(url, headers={"X-API-Key": self.key})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def v1_all(self, path: str, **params) -> list[dict]:
        """Every row of a forward ``/api/v1`` window, following ``meta.next``."""
        rows, body = [], self.v1(path, **params)
        while True:
            rows += body["data"]
            link = body["meta"].get("next")
            if not link:
                return rows
            request = urllib.request.Request(link, headers={"X-API-Key": self.key})
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.loads(response.read())


def _run(args: list[str], env: dict) -> str:
    done = subprocess.run(
        [*MANAGE, *args, "--settings=config.settings.test"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
        capture_output=True,
        text=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def service():
    """A private database with a backfilled day of all five tickers at 1 tick/s, an API key,
    and daphne requiring keys; removed however the tests end."""
    from django.conf import settings

    url = private_database_url()
    drop_database(url)
    ensure_database(url)
    stack = Stack(
        database_url=url,
        redis_url=settings.REDIS_URL,
        web_port=free_port(),
        env={"API_KEYS_REQUIRED": "true", "API_RATE_LIMIT_KEY": "100000/minute"},
    )
    try:
        _run(["migrate", "--noinput", "-v", "0"], stack.env)
        with _connect(url) as conn:
            conn.execute("UPDATE ticks_ticker SET tick_interval_ms = 1000")
        end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        _run(["backfill", "--hours", "24", "--end", end.isoformat(), "--no-progress"], stack.env)
        key = _run(
            [
                "shell",
                "-c",
                "from ticks.api_keys import api_key_create; print(api_key_create(name='e2e')[1])",
            ],
            stack.env,
        ).split()[-1]
        with _connect(url) as conn:
            seeds = dict(conn.execute("SELECT symbol, seed FROM ticks_ticker").fetchall())
        stack.start("web")
        service = Service(stack, key, seeds, end)
        stack.wait_for(lambda: _answers(service.base), timeout=60, what="daphne answering")
        yield service
        assert all(stack.alive().values()), stack.logs()
    finally:
        stack.close()
        r = redis.Redis.from_url(settings.REDIS_URL)
        for name in r.scan_iter(match=f"{stack.redis_prefix}:*", count=1000):
            r.delete(name)
        drop_database(url)


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
