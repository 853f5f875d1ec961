"""The embedded PostgreSQL and Valkey (``config.embedded``) and the supervisor that runs a command
with them (``python -m config.supervisor``, what ``make run`` uses), in real processes.

Every test here uses its own temporary data folder and ports, whatever the session's servers are.
"""

import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from config.embedded import START_ATTEMPTS, EmbeddedServices, ServiceError
from config.embedded import postgres as embedded_postgres
from config.embedded.postgres import EmbeddedPostgres, blocked_folder
from config.embedded.valkey import EmbeddedValkey
from config.services import pid_alive
from testsupport.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def _embedded_env(folder: Path, **extra: str) -> dict:
    """This environment without DATABASE_URL/REDIS_URL: the supervisor must start its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        EMBEDDED_DATA_DIR=str(folder),
        DJANGO_SETTINGS_MODULE="config.settings.local",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
        **extra,
    )
    return env


@pytest.fixture
def data_dir():
    """A fresh folder under the system's temp dir (pytest's own is private to us: as root,
    PostgreSQL runs as its own user, which must be able to get in)."""
    root = Path(tempfile.mkdtemp(prefix="sm-embedded-test-"))
    root.chmod(0o755)
    try:
        yield root / "data"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def listening():
    """A port something listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _gone(pid: int, timeout: float = 10) -> bool:
    """``pid`` has exited (PostgreSQL removes its pid file just before it exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":  # exited, not reaped
                return True
        except OSError:
            return not pid_alive(pid)
        time.sleep(0.05)
    return False


def _postgres_running(folder: Path) -> bool:
    return (folder / "postgres" / "postmaster.pid").exists()


PRINT_URLS = "import os; print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])"


def test_with_both_urls_the_supervisor_starts_nothing_and_passes_them_on(data_dir):
    env = _embedded_env(
        data_dir,
        DATABASE_URL="postgres://someone:secret@db.example:6543/market",
        REDIS_URL="redis://cache.example:6380/4",
    )
    result = subprocess.run(
        [sys.executable, "-m", "config.supervisor", "--", sys.executable, "-c", PRINT_URLS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "postgres://someone:secret@db.example:6543/market",
        "redis://cache.example:6380/4",
    ]
    assert "PostgreSQL: DATABASE_URL at postgres://someone:***@db.example:6543/market" in (
        result.stderr
    )
    assert "secret" not in result.stderr
    assert not data_dir.exists()


def test_the_command_exit_status_is_the_supervisors(data_dir):
    env = _embedded_env(data_dir, DATABASE_URL="postgres://u@h/d", REDIS_URL="redis://h/0")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "config.supervisor",
            "--",
            sys.executable,
            "-c",
            "raise SystemExit(7)",
        ],
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert result.returncode == 7


# --- Expected failures: one clear line, nothing left half-started ---------------------------------


def test_a_second_supervisor_on_a_folder_in_use_says_so_and_starts_nothing(data_dir):
    data_dir.mkdir()
    with open(data_dir / "services.lock", "w") as lock:  # as a running `make run` holds it
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("4242")
        lock.flush()
        result = subprocess.run(
            [sys.executable, "-m", "config.supervisor", "--", sys.executable, "-c", "print('ran')"],
            cwd=ROOT,
            env=_embedded_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "ran" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert re.search(
        rf"the embedded servers in {re.escape(str(data_dir))} are in use by another "
        r"process \(pid 4242",
        lines[0],
    )
    assert not (data_dir / "postgres").exists() and not (data_dir / "valkey").exists()


def test_postgres_on_a_taken_port_is_refused_before_anything_starts(data_dir, listening):
    server = EmbeddedPostgres(data_dir / "postgres", port=listening, temporary=True)
    with pytest.raises(
        ServiceError,
        match=rf"^embedded PostgreSQL cannot listen on "
        rf"127\.0\.0\.1:{listening}: the port is taken$",
    ):
        server.start()
    assert not (data_dir / "postgres" / "PG_VERSION").exists()


def test_valkey_on_a_taken_port_is_refused(data_dir, listening):
    with pytest.raises(
        ServiceError,
        match=rf"^embedded Valkey cannot listen on "
        rf"127\.0\.0\.1:{listening}: the port is taken$",
    ):
        EmbeddedValkey(data_dir / "valkey", port=listening, temporary=True).start()


def test_a_failure_half_way_stops_what_had_started(data_dir, listening, monkeypatch):
    # PostgreSQL gets a free port, Valkey a taken one on every attempt
    ports = iter([free_port()] + [listening] * START_ATTEMPTS)
    monkeypatch.setattr("config.embedded.free_port", lambda preferred=None: next(ports))
    services = EmbeddedServices(data_dir, temporary=True)
    with pytest.raises(ServiceError, match="the port is taken"):
        services.start()
    assert next(ports, None) is None  # it tried START_ATTEMPTS times
    assert (data_dir / "postgres" / "PG_VERSION").exists()  # it had started...
    assert not _postgres_running(data_dir)  # ...and was stopped
    assert not (data_dir / "services.json").exists()
    with open(data_dir / "services.lock") as lock:  # and the folder is free again
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_port_taken_between_choosing_and_binding_it_is_replaced(data_dir, listening, monkeypatch):
    """Two embedded servers starting at the same moment (two test runs, two `make run` in other
    folders) can choose the same free port; the one that loses starts on another."""
    chosen = iter([free_port(), listening, free_port()])  # Valkey's first choice is taken
    monkeypatch.setattr("config.embedded.free_port", lambda preferred=None: next(chosen))
    with EmbeddedServices(data_dir, temporary=True) as services:
        assert services.valkey.port != listening
        with socket.create_connection(("127.0.0.1", services.valkey.port), timeout=5):
            pass
        with psycopg.connect(services.database_url, connect_timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_folder_the_postgres_user_cannot_reach_is_named(data_dir):
    data_dir.mkdir()
    closed = data_dir / "closed"
    (closed / "inner").mkdir(parents=True)
    closed.chmod(0o700)
    stranger = pwd.struct_passwd(("stranger", "x", 65533, 65533, "", "/", "/bin/false"))
    assert blocked_folder(closed / "inner" / "data", stranger) == closed
    closed.chmod(0o711)
    assert blocked_folder(closed / "inner" / "data", stranger) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="about running as root")
def test_as_root_binaries_the_service_user_cannot_reach_are_run_from_a_copy(tmp_path, monkeypatch):
    """A checkout in a folder private to root: the wheel's installation (and the libraries its
    RPATH points at) is copied once to a root-owned folder every user can read."""
    private = tmp_path / "private"
    site = private / "site-packages"
    (site / "embedded_postgres" / "pginstall" / "bin").mkdir(parents=True)
    (site / "embedded_postgres" / "pginstall" / "bin" / "initdb").write_text("#!/bin/sh\n")
    (site / "embedded_postgres.libs").mkdir()
    (site / "embedded_postgres.libs" / "libpq.so.5").write_text("")
    private.chmod(0o700)
    public = Path(tempfile.mkdtemp(prefix="sm-embedded-copy-"))
    public.chmod(0o755)
    monkeypatch.setattr(
        embedded_postgres, "bin_dir", lambda: site / "embedded_postgres" / "pginstall" / "bin"
    )
    monkeypatch.setattr(embedded_postgres.tempfile, "gettempdir", lambda: str(public))
    user = embedded_postgres.service_user()
    try:
        assert blocked_folder(embedded_postgres.bin_dir(), user) is not None
        copied = embedded_postgres.runnable_bin_dir(user)
        assert copied.is_relative_to(public)
        assert (copied / "initdb").read_text() == "#!/bin/sh\n"
        assert (copied.parents[2] / "embedded_postgres.libs" / "libpq.so.5").exists()
        assert blocked_folder(copied, user) is None
        assert embedded_postgres.runnable_bin_dir(user) == copied  # copied once, then reused
        assert embedded_postgres.runnable_bin_dir(None) == embedded_postgres.bin_dir()
    finally:
        shutil.rmtree(public, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="about running as root")
def test_as_root_postgres_runs_as_its_own_user(data_dir):
    with EmbeddedServices(data_dir, redis=False, temporary=True) as services:
        pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        owner = pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name
        url = services.database_url.replace("postgres://", "postgresql://")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert owner == embedded_postgres.SERVICE_USER
    assert _gone(pid)


# The command under a terminal's Ctrl-C: it gets SIGINT with everything else in the group, and
# still finds Redis up while it shuts down.
CTRL_C_CHILD = """
import os, signal, sys, time, redis
def on_int(signum, frame):
    time.sleep(0.5)
    print("redis after SIGINT:", redis.Redis.from_url(os.environ["REDIS_URL"]).ping(), flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, on_int)
print("ready", flush=True)
time.sleep(60)
"""


def test_ctrl_c_stops_the_command_first_and_the_servers_after_it(data_dir, tmp_path):
    env = _embedded_env(data_dir, DATABASE_URL="postgres://u@h/d")  # only Valkey is embedded
    log = tmp_path / "supervisor.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "config.supervisor", "--", sys.executable, "-c", CTRL_C_CHILD],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait(
            lambda: "ready" in log.read_text(), timeout=60, what="the command", proc=proc, log=log
        )
        valkey_pid = json.loads((data_dir / "services.json").read_text())["valkey_pid"]
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the whole group
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log.read_text()
    assert "redis after SIGINT: True" in output
    assert output.index("redis after SIGINT") < output.index("stopping the embedded servers")
    assert "embedded servers stopped" in output
    assert _gone(valkey_pid)
    assert not (data_dir / "services.json").exists()


# --- The whole service in embedded mode -------------------------------------------------------------

SERVE = """
set -e
python -m config.ensure_database
python manage.py migrate --noinput -v 0
python manage.py generate --steps 20
exec daphne -b 127.0.0.1 -p {port} config.asgi:application
"""

COUNT = (
    "import django; django.setup(); from ticks.models import Tick; "
    "print('ticks', Tick.objects.count())"
)


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


def _wait(predicate, *, timeout: float, what: str, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text() if log else ''}")


@pytest.mark.e2e
@pytest.mark.slow
def test_without_urls_the_service_runs_on_embedded_servers_and_keeps_its_data(data_dir, tmp_path):
    """No DATABASE_URL/REDIS_URL: the supervisor starts PostgreSQL and Valkey, the command
    migrates, generates ticks and serves them over REST from a real daphne; SIGTERM stops the
    command and then the servers; a second run finds the same ticks."""
    port = free_port()
    env = _embedded_env(data_dir, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    log = tmp_path / "supervisor.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "config.supervisor", "--", "sh", "-c", SERVE.format(port=port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status, history = _wait(
            lambda: _get(f"http://127.0.0.1:{port}/api/v1/history/SYNTH?limit=100"),
            timeout=120,
            what="daphne serving the generated ticks",
            proc=proc,
            log=log,
        )
        state = json.loads((data_dir / "services.json").read_text())
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # the supervisor alone: it passes it on
        rc = proc.wait(timeout=60)
    output = log.read_text()
    assert status == 200 and history["success"] is True
    served = len(history["data"])
    assert served == 20 and {row["ticker"] for row in history["data"]} == {"SYNTH"}
    generated = int(re.search(r"Generated (\d+) ticks", output).group(1))
    assert generated == 5 * 20
    assert re.search(r"PostgreSQL: embedded PostgreSQL [\d.]+ \(started", output)
    assert re.search(r"Redis: embedded Valkey [\d.]+ \(started", output)
    assert state["database_url"].startswith("postgres://postgres@127.0.0.1:")
    assert state["redis_url"].startswith("redis://127.0.0.1:")
    # Stopped cleanly: the command, then both servers; no address left to find.
    assert rc in (0, -signal.SIGTERM, 128 + signal.SIGTERM), output
    assert "embedded servers stopped" in output
    assert not (data_dir / "services.json").exists()
    assert not _postgres_running(data_dir)
    assert _gone(state["valkey_pid"])

    again = subprocess.run(
        [sys.executable, "-m", "config.supervisor", "--", sys.executable, "-c", COUNT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert f"ticks {generated}" in again.stdout.splitlines()
    assert not _postgres_running(data_dir)
