"""Create the configured PostgreSQL database if it does not exist yet.

``python -m config.ensure_database`` (run by ``make run``): Django cannot connect to a database
that is not there, so this talks to the server's ``postgres`` database directly. The database is
``DATABASE_URL``'s, or the embedded server's (``config.services``).
"""

import sys

import environ
import psycopg
from psycopg import sql

from config import services


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` if missing; return True when it was created."""
    cfg = environ.Env.db_url_config(url)
    name = cfg["NAME"]
    params = {
        "host": cfg.get("HOST") or None,
        "port": cfg.get("PORT") or None,
        "user": cfg.get("USER") or None,
        "password": cfg.get("PASSWORD") or None,
        "dbname": "postgres",
        "connect_timeout": 5,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def main() -> int:
    env = environ.Env()
    services.read_dotenv()
    resolved = services.resolve(
        database_url=env("DATABASE_URL", default=""),
        redis_url="-",
        folder=services.data_dir(env("EMBEDDED_DATA_DIR", default="")),
    )
    if resolved.database_source == "missing":
        print(
            "DATABASE_URL is not set and no embedded PostgreSQL is running: use `make run`, "
            "or run this under `python -m config.supervisor -- ...`.",
            file=sys.stderr,
        )
        return 1
    url = resolved.database_url
    try:
        created = ensure_database(url)
    except psycopg.OperationalError as exc:
        print(f"Cannot reach PostgreSQL for DATABASE_URL: {exc}".strip(), file=sys.stderr)
        print("Start PostgreSQL or set DATABASE_URL (see README).", file=sys.stderr)
        return 1
    name = environ.Env.db_url_config(url)["NAME"]
    print(f"database {name}: {'created' if created else 'exists'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
