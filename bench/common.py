"""Shared plumbing: a private database, timing, tables, and RESULTS.md."""

import os
import re
import shlex
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def setup_django(*, suffix: str = "bench") -> str:
    """Point Django at a private database (``<name>_<suffix>``), create and migrate it.

    Django is set up once per process: when an earlier part of the same run (``bench alpaca``'s
    REST part before its stream part) already did it, the run stays on that part's database
    and settings, and this returns its URL. Pointing the subprocesses at a second, unmigrated
    database while this process stays on the first is what made the combined run's ``/ws``
    baseline lose every message."""
    from django.apps import apps

    if apps.ready:
        return os.environ["DATABASE_URL"]
    import environ

    from config import services
    from config.ensure_database import ensure_database

    resolved = services.resolve(
        database_url=os.environ.get("DATABASE_URL", ""),
        redis_url=os.environ.get("REDIS_URL", ""),
        folder=services.data_dir(os.environ.get("EMBEDDED_DATA_DIR")),
    )
    if resolved.missing:
        sys.exit(
            f"{' and '.join(resolved.missing)} not set and no embedded servers running: "
            "run `make bench`, or this under `python -m config.supervisor -- ...`"
        )
    os.environ["REDIS_URL"] = resolved.redis_url
    base = resolved.database_url
    cfg = environ.Env.db_url_config(base)
    url = base.rsplit("/", 1)[0] + f"/{cfg['NAME']}_{suffix}"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("MARKET_REDIS_PREFIX", f"market-{suffix}")
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def stream_setup(*, suffix: str = "bench") -> dict:
    """Django set up (``setup_django``) on Redis prefixes of this run's own, the channel layer's
    and the market's, and the environment of the server processes the benchmark starts: its
    database, Redis, both prefixes, ``LOG_LEVEL=WARNING``."""
    tag = uuid.uuid4().hex[:8]
    os.environ["CHANNEL_LAYER_PREFIX"] = f"bench-asgi-{tag}"
    os.environ["MARKET_REDIS_PREFIX"] = f"bench-market-{tag}"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    database_url = setup_django(suffix=suffix)
    from django.conf import settings

    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYER_PREFIX,
        "MARKET_REDIS_PREFIX": settings.MARKET_REDIS_PREFIX,
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def timer():
    box = {}
    started = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - started


def table(header: list[str], rows: list[list[object]]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(cells[0]), sep, *map(line, cells[1:])])


def record(name: str, body: str) -> None:
    """Replace the ``## <name>`` section of RESULTS.md with today's figures."""
    command = "python -m bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"## {name}\n\nDate: {stamp}  \nCommand: `{command}`\n\n{body.strip()}\n"
    text = (
        RESULTS.read_text()
        if RESULTS.exists()
        else "# Benchmark results\n\nLatest figures of every benchmark (`python -m bench <name>`). "
        "Machine: 2 cores, shared.\n"
    )
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(section + "\n", text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    RESULTS.write_text(text.rstrip() + "\n")


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}" if seconds > 0 else "inf"


def free_port() -> int:
    """A free local port: from ``BENCH_PORT_RANGE`` (``low-high``) when set (machines shared by
    several people keep to their own range), else any the system picks."""
    import random
    import socket

    span = os.environ.get("BENCH_PORT_RANGE", "")
    candidates = [0]
    if span:
        low, high = (int(x) for x in span.split("-"))
        candidates = random.sample(range(low, high + 1), high - low + 1)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free port in BENCH_PORT_RANGE={span}")
