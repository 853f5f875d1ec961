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
from pathlib import Path

import pytest

_session: dict = {}


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # A wrapper runs before pytest-django's own hook, which configures Django from settings.
    _separate_xdist_workers()
    if not _wants_services(early_config):
        return (yield)
    if "DJANGO_SETTINGS_MODULE" not in os.environ:
        ds = getattr(early_config.known_args_namespace, "ds", None) or early_config.getini("DJANGO_SETTINGS_MODULE")
        if ds:
            os.environ["DJANGO_SETTINGS_MODULE"] = ds
    import environ

    from config import services

    environ.Env.read_env(services.BASE_DIR / ".env", overwrite=False)  # as the settings do
    need_db = not os.environ.get("DATABASE_URL")
    need_redis = not os.environ.get("REDIS_URL")
    if need_db or need_redis:
        _start(need_db=need_db, need_redis=need_redis)
    return (yield)


def _separate_xdist_workers() -> None:
    """Under pytest-xdist each worker has its own test database (pytest-django adds the worker
    id) and here its own Redis key and channel-layer prefixes, so workers never see each other's
    keys."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    for name, default in (("MARKET_REDIS_PREFIX", "test-market"),
                          ("CHANNEL_LAYER_PREFIX", "test-asgi")):
        base = os.environ.get(name) or default
        if not base.endswith(f"-{worker}"):
            os.environ[name] = f"{base}-{worker}"


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
    started = " and ".join(name for name, on in (("PostgreSQL", need_db), ("Valkey", need_redis))
                           if on)
    _session["header"] = f"services: temporary embedded {started} in {folder} (no URL set)"


def pytest_report_header(config):
    return _session.get("header", "services: DATABASE_URL and REDIS_URL")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    embedded = _session.pop("embedded", None)
    if embedded is not None:
        embedded.stop()
        shutil.rmtree(_session.pop("folder"), ignore_errors=True)
