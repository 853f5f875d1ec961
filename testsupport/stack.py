"""The real processes of the service (celery generator, worker, beat, and daphne), started on
the given database and Redis with their own key and channel prefixes, and always stopped.

The web processes run as ``make run`` runs them (``config.procman.web_argv``): the stack binds
the web port once and hands that listening socket to each daphne as its fd 0, as supervisord's
``fcgi-program`` does; ``start("web", "web2")`` is two daphne processes on one port.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

from config import procman
from testsupport.services import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _kind(name: str) -> str:
    return name.rstrip("0123456789")  # "generator2": a second generator worker


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass  # already gone


def _command(name: str, *, workdir: Path) -> list[str]:
    celery = [str(BIN / "celery"), "-A", "config"]
    return {
        "generator": [
            *celery,
            "worker",
            "-Q",
            "generation",
            "--pool",
            "solo",
            "-n",
            f"generator-{uuid.uuid4().hex[:6]}@%h",
            "--loglevel",
            "INFO",
            *procman.WORKER_OPTIONS,  # as make run starts them
        ],
        "worker": [
            *celery,
            "worker",
            "-Q",
            "default",
            "--concurrency",
            "2",
            "-n",
            f"worker-{uuid.uuid4().hex[:6]}@%h",
            "--loglevel",
            "INFO",
            *procman.WORKER_OPTIONS,  # as make run starts them
        ],
        "beat": [
            *celery,
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(workdir / "celerybeat-schedule"),
        ],
        "web": procman.web_argv(),
    }[_kind(name)]


class Stack:
    """``Stack(database_url=..., redis_url=...)``; ``start("generator", "worker", "beat")``.

    A name with a number is one more of its kind: ``start("generator2")`` starts a second
    generator worker, ``start("web2")`` a second daphne on the same port (each has its own
    node name and log); ``start("web2", own_port=True)`` a daphne on a port of its own
    (``port("web2")``), to address each process. ``start(..., env={...})``: more variables
    for those processes only."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        env: dict | None = None,
        web_port: int | None = None,
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="sm-stack-"))
        tag = uuid.uuid4().hex[:8]
        self.redis_prefix = f"e2e-{tag}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "MARKET_REDIS_PREFIX": self.redis_prefix,
            "CHANNEL_LAYER_PREFIX": f"e2e-asgi-{tag}",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.redis_url = redis_url
        self.web_port = web_port
        self.ports: dict[str, int | None] = {"web": web_port}
        self.procs: dict[str, subprocess.Popen] = {}
        self._web_socket: socket.socket | None = None
        self._own_sockets: dict[str, socket.socket] = {}

    def web_socket(self) -> socket.socket:
        """The web port's listening socket, bound once (as supervisord binds it for
        ``make run``) and kept until ``close()``: daphne processes come and go, the port stays."""
        if self._web_socket is None:
            if self.web_port is None:
                raise ValueError("Stack(web_port=...) is needed to start daphne")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.web_port))
            sock.listen(1024)
            self._web_socket = sock
        return self._web_socket

    def port(self, name: str) -> int | None:
        """The port of daphne ``name``: ``web_port``, or its own (``start(..., own_port=True)``)."""
        return self.ports.get(name, self.web_port)

    def _own_socket(self, name: str) -> socket.socket:
        if name not in self._own_sockets:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", free_port()))
            sock.listen(1024)
            self._own_sockets[name] = sock
            self.ports[name] = sock.getsockname()[1]
        return self._own_sockets[name]

    def start(self, *names: str, env: dict | None = None, own_port: bool = False) -> "Stack":
        for name in names:
            log = open(self.workdir / f"{name}.log", "ab")
            web = _kind(name) == "web"
            sock = None
            if web:
                sock = self._own_socket(name) if own_port else self.web_socket()
            self.procs[name] = subprocess.Popen(
                _command(name, workdir=self.workdir),
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdin=sock.fileno() if sock is not None else None,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_webs(self, *, timeout: float = 60) -> None:
        """Until each daphne started answers ``/healthz`` on its own (the others stopped
        meanwhile, so only it can accept), so that none is still starting when a test or a
        benchmark begins."""
        import urllib.request

        def answers() -> bool:
            url = f"http://127.0.0.1:{self.web_port}/healthz"
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    return answer.status == 200
            except OSError:
                return False

        webs = [name for name in self.procs if _kind(name) == "web"]
        for name in webs:
            others = [self.procs[other].pid for other in webs if other != name]
            for pid in others:
                os.kill(pid, signal.SIGSTOP)
            try:
                self.wait_for(answers, timeout=timeout, what=f"{name} answering")
            finally:
                for pid in others:
                    os.kill(pid, signal.SIGCONT)

    def log(self, name: str) -> str:
        """Everything process ``name`` has written so far."""
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        _signal_group(proc, sig)
        proc.wait(timeout=30)

    def stop(self, *names: str) -> None:
        """SIGTERM to each (all by default) at once, then wait for them together: their shutdowns
        overlap instead of adding up. SIGKILL for any still running 15 s later."""
        stopping = [
            self.procs.pop(name) for name in (names or list(self.procs)) if name in self.procs
        ]
        for proc in stopping:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in stopping:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)

    def close(self) -> None:
        """Stop everything and leave nothing behind: its Redis keys (market and channel layer
        prefixes) and its working folder with the logs."""
        self.stop()
        if self._web_socket is not None:
            self._web_socket.close()
            self._web_socket = None
        for sock in self._own_sockets.values():
            sock.close()
        self._own_sockets.clear()
        client = redis.Redis.from_url(self.redis_url)
        try:
            for prefix in (self.redis_prefix, self.env["CHANNEL_LAYER_PREFIX"]):
                batch = list(client.scan_iter(match=f"{prefix}:*", count=1000))
                while batch:
                    client.delete(*batch[:500])
                    batch = batch[500:]
        except redis.RedisError:
            pass  # the fault tests may have stopped this Redis for good
        finally:
            client.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self.procs.items()}

    def logs(self) -> str:
        """Each process's log: its warning and error lines (the first 20: why it failed), then
        its last 4000 characters."""
        parts = []
        for path in sorted(self.workdir.glob("*.log")):
            text = path.read_text(errors="replace")
            alarms = [
                line for line in text.splitlines() if " WARNING " in line or " ERROR " in line
            ]
            parts.append(
                f"--- {path.name}\n"
                + "".join(f"{a}\n" for a in alarms[:20])
                + f"[...]\n{text[-4000:]}"
            )
        return "\n".join(parts)

    def wait_for(self, predicate, *, timeout: float, interval: float = 0.2, what: str = ""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{self.logs()}")
