"""pytest plugin (``-p testsupport.pytest_plugin`` in pytest.ini): the test session's database and
Redis.

With ``DATABASE_URL`` and ``REDIS_URL`` set (CI, a machine with its own servers) it does nothing.
Otherwise it starts temporary embedded servers (PostgreSQL and/or Valkey, see
``config.embedded``) in a temporary folder before pytest-django reads the settings, exports their
URLs for the session (subprocesses started by tests inherit them), and stops and removes them
when the session ends. So plain ``pytest`` works as well as ``make test``.

It lives outside ``config/`` on purpose: importing the ``config`` package loads the Celery app,
which defaults ``DJANGO_SETTINGS_MODULE`` to the local settings, and pytest-django prefers that
variable to pytest.ini; so the variable is pinned here first (``--ds``, else the ini's value).
"""

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

_session: dict = {}


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # A wrapper runs before pytest-django's own hook, which configures Django from settings.
    _separate_runs_and_workers()
    if not _wants_services(early_config):
        return (yield)
    if "DJANGO_SETTINGS_MODULE" not in os.environ:
        ds = getattr(early_config.known_args_namespace, "ds", None) or early_config.getini(
            "DJANGO_SETTINGS_MODULE"
        )
        if ds:
            os.environ["DJANGO_SETTINGS_MODULE"] = ds

    from config import services

    services.read_dotenv()  # as the settings do
    need_db = not os.environ.get("DATABASE_URL")
    need_redis = not os.environ.get("REDIS_URL")
    if need_db or need_redis:
        _start(need_db=need_db, need_redis=need_redis)
    return (yield)


PREFIXES = (("MARKET_REDIS_PREFIX", "test-market"), ("CHANNEL_LAYER_PREFIX", "test-asgi"))


def run_prefixes(environ: dict) -> dict[str, str]:
    """The Redis key and channel-layer prefixes of this test process: ``<base>-<run>`` (``-<xdist
    worker>`` added under xdist). ``<run>`` (``TEST_RUN_ID``) is made once per ``pytest`` run and
    inherited by its xdist workers, so two runs on one Redis never share a key, and a run's keys
    can all be found (and removed) at its end. Sets ``TEST_RUN_ID`` in ``environ`` if missing."""
    run = environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:8])
    worker = environ.get("PYTEST_XDIST_WORKER")
    found = {}
    for name, default in PREFIXES:
        base = environ.get(name) or default
        prefix = base if base.endswith(f"-{run}") or f"-{run}-" in base else f"{base}-{run}"
        if worker and not prefix.endswith(f"-{worker}"):
            prefix = f"{prefix}-{worker}"
        found[name] = prefix
    return found


def _separate_runs_and_workers() -> None:
    """Each run (and, under pytest-xdist, each worker: pytest-django adds the worker id to the
    test database's name) gets its own Redis key and channel-layer prefixes."""
    os.environ.update(run_prefixes(os.environ))


def remove_run_keys(redis_url: str, *, run: str, bases=None) -> int:
    """Delete the run's keys (every worker's) from the Redis at ``redis_url``; return how many."""
    import redis

    client = redis.Redis.from_url(redis_url)
    removed = 0
    try:
        for base in bases or [default for _, default in PREFIXES]:
            batch = list(client.scan_iter(match=f"{base}-{run}*", count=1000))
            for start in range(0, len(batch), 500):
                removed += client.delete(*batch[start : start + 500])
    except redis.RedisError:
        pass  # a fault test may have taken this Redis away for good
    finally:
        client.close()
    return removed


def _wants_services(config) -> bool:
    ns = config.known_args_namespace
    return not (getattr(ns, "help", False) or getattr(ns, "version", False))


def _start(*, need_db: bool, need_redis: bool) -> None:
    from config.embedded import EmbeddedServices, ServiceError

    folder = Path(tempfile.mkdtemp(prefix="sm-test-services-"))
    folder.chmod(0o755)  # as root, PostgreSQL runs as its own user, which must get in
    embedded = EmbeddedServices(folder, database=need_db, redis=need_redis, temporary=True)
    try:
        embedded.start()
    except ServiceError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise pytest.UsageError(f"cannot start the embedded test servers: {exc}") from None
    _session.update(embedded=embedded, folder=folder)
    if need_db:
        os.environ["DATABASE_URL"] = embedded.database_url
    if need_redis:
        os.environ["REDIS_URL"] = embedded.redis_url
    started = " and ".join(
        name for name, on in (("PostgreSQL", need_db), ("Valkey", need_redis)) if on
    )
    _session["header"] = f"services: temporary embedded {started} in {folder} (no URL set)"


def pytest_report_header(config):
    return _session.get("header", "services: DATABASE_URL and REDIS_URL")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # The controller (or a run without xdist) removes every key the run left, its workers' too,
    # before an embedded Redis goes away with them.
    if not os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("REDIS_URL"):
        bases = [
            os.environ.get(name, default).split(f"-{os.environ['TEST_RUN_ID']}")[0]
            for name, default in PREFIXES
        ]
        remove_run_keys(os.environ["REDIS_URL"], run=os.environ["TEST_RUN_ID"], bases=bases)
    embedded = _session.pop("embedded", None)
    if embedded is not None:
        embedded.stop()
        shutil.rmtree(_session.pop("folder"), ignore_errors=True)
