"""Fixtures shared by every app's tests."""

import socket

import pytest

# `make test` runs the suite on two xdist workers. The tests of a module that starts real
# processes (daphne, celery, embedded servers) stay together on one worker, in order, so the
# module's processes and data are set up once (split over two workers, each would build them);
# two such modules may run at once, one per worker. All of them on one worker would be safest
# for the timed tests but makes that worker's share alone longer than the suite's budget.
PROCESS_GROUP = "real-processes"


def process_group(item) -> str | None:
    """The xdist group of a test that starts real processes (one per module), else None."""
    if item.get_closest_marker("e2e") or item.path.name == "test_embedded.py":
        module = item.path.relative_to(item.config.rootpath).with_suffix("")
        return f"{PROCESS_GROUP}-{'.'.join(module.parts)}"
    return None


# tryfirst: pytest-xdist's worker reads the xdist_group marks in its own
# pytest_collection_modifyitems (to tag each test's id with its group); marks added after it has
# run are ignored, and the group's tests would then be spread over both workers.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = process_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


class _GroupCheck:
    """Fails the run when pytest-xdist did not put the group's tests together.

    pytest-xdist's ``--dist loadgroup`` tags each grouped test's id with its group (its worker's
    own ``pytest_collection_modifyitems``); a pytest whose node ids it can no longer rewrite
    (pytest 9.2 with pytest-xdist 3.8) silently spreads the group over every worker, and the
    real-process tests then compete for the cores and time out. Registered on xdist workers
    only, it runs after every other implementation of the hook."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        if not config.getvalue("loadgroup"):
            return
        loose = [
            i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid
        ]
        if loose:
            raise pytest.UsageError(
                f"pytest-xdist did not group {len(loose)} tests (e.g. {loose[0]}): this "
                "pytest and pytest-xdist do not work together; use the versions pinned in "
                "requirements.txt"
            )


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # an xdist worker
        config.pluginmanager.register(_GroupCheck(), "process-group-check")


@pytest.fixture(scope="session")
def tick_backend(django_db_setup, django_db_blocker):
    """The layout of the test database's ticks table (TimescaleDB hypertable or partitioned)."""
    from django.db import connection

    from ticks.storage import tick_storage

    with django_db_blocker.unblock():
        return tick_storage(connection).backend


@pytest.fixture(autouse=True)
def _layout_specific(request):
    """``@pytest.mark.timescaledb`` / ``@pytest.mark.partitioned`` tests run only on a database
    whose ticks table has that layout (see the README, "Testing on TimescaleDB")."""
    wanted = [
        m.name for m in request.node.iter_markers() if m.name in ("timescaledb", "partitioned")
    ]
    if not wanted:
        return
    from ticks.storage import Backend

    backend = request.getfixturevalue("tick_backend")
    if wanted[0] == "timescaledb" and backend is not Backend.TIMESCALEDB:
        pytest.skip("needs a TimescaleDB server (DATABASE_URL); this one is plain PostgreSQL")
    if wanted[0] == "partitioned" and backend is not Backend.PARTITIONED:
        pytest.skip("plain-PostgreSQL partitions; this database uses a TimescaleDB hypertable")


@pytest.fixture
def closed_port() -> int:
    """A local TCP port that nothing listens on: bound by the OS to find a free one, then closed.

    Connecting to it is refused at once, which makes "the server is unreachable" fast to test.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
