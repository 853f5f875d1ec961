"""``manage.py metrics_server [--port 9100] [--bind 127.0.0.1] [-- COMMAND ...]``: serve this
host's metrics directory (``PROMETHEUS_MULTIPROC_DIR``) at ``/metrics``, for a host whose
Celery workers have no web process beside them.

With a command after ``--`` (``-- celery -A config worker ...``), it runs that command, passes
SIGTERM and SIGINT on to it, and stops serving and exits with its status when it ends: one
container, one process tree (docker-compose.yml's worker). Without, it serves until stopped.
"""

import argparse
import signal
import subprocess
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ticks.metrics_server import PATH, metrics_server


class Command(BaseCommand):
    help = (
        "Serve this host's metrics directory (PROMETHEUS_MULTIPROC_DIR) at /metrics, for hosts "
        "with Celery workers and no web process; optionally while running a command given "
        "after --."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=9100, help="port (default 9100)")
        parser.add_argument(
            "--bind",
            default="127.0.0.1",
            help="address to listen on (default 127.0.0.1; 0.0.0.0 for a Prometheus elsewhere)",
        )
        parser.add_argument(
            "command", nargs=argparse.REMAINDER, help="-- COMMAND ...: run it, serve meanwhile"
        )

    def handle(self, *args, **options):
        path = settings.PROMETHEUS_MULTIPROC_DIR
        if not path:
            raise CommandError(
                "PROMETHEUS_MULTIPROC_DIR is not set: there is no directory of this host's "
                "processes to serve (set it, to the same directory, for the workers and this)."
            )
        if not settings.METRICS_ENABLED:
            raise CommandError("metrics are switched off (METRICS_ENABLED=false).")
        command = list(options["command"])
        if command[:1] == ["--"]:
            command = command[1:]
        try:
            server = metrics_server(path=path, port=options["port"], bind=options["bind"])
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {options['bind']}:{options['port']}: {exc}"
            ) from None
        threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
        self.stdout.write(
            f"metrics of {path} at http://{options['bind']}:{server.server_port}{PATH}",
        )
        self.stdout.flush()
        try:
            return_code = self._run(command)
        finally:
            server.shutdown()
            server.server_close()
        if return_code:
            raise SystemExit(return_code)

    def _run(self, command: list[str]) -> int:
        """Run ``command`` (signals passed on) and return its status; without one, wait for
        SIGTERM or SIGINT and return 0."""
        stop = threading.Event()
        child = subprocess.Popen(command) if command else None

        def forward(signum, frame):
            if child is not None:
                child.send_signal(signum)
            else:
                stop.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, forward)
        if child is None:
            while not stop.wait(1.0):
                pass
            return 0
        code = child.wait()
        return 128 - code if code < 0 else code  # killed by a signal: 128 + its number
