"""``python -m config.procman_metrics``: supervisord's event listener (its documented listener
protocol, ``PROCESS_STATE`` events) that tells prometheus-client a process of the service has
ended: ``multiprocess.mark_process_dead(pid)``, as the library's multiprocess mode asks of
whatever starts the processes (gunicorn's ``child_exit`` in its documentation). That removes the
ended process's "live" gauges from the metrics directory (``PROMETHEUS_MULTIPROC_DIR``): a
daphne that was killed no longer counts its WebSocket clients. Its counters and histograms stay,
so totals never go backwards.

``config.procman`` runs it when the metrics directory is set (``make run`` sets one).
"""

import signal
import sys

from config.procman_listener import fields, listen

# The states a process with a pid leaves it in: it ran, and is gone.
ENDED = (b"PROCESS_STATE_EXITED", b"PROCESS_STATE_STOPPED")


def ended_pid(header: dict[bytes, bytes], payload: bytes) -> int | None:
    """The pid of the process an event (its header's fields, its payload) says has ended, else
    None."""
    if header.get(b"eventname") not in ENDED:
        return None
    pid = fields(payload).get(b"pid")
    return int(pid) if pid and pid.isdigit() else None


def serve(stdin, stdout, mark_dead) -> None:
    def handle(header: dict, payload: bytes) -> None:
        pid = ended_pid(header, payload)
        if pid is not None:
            try:
                mark_dead(pid)
            except OSError as exc:  # never stop listening over one file
                print(f"metrics: could not mark process {pid} dead: {exc}", file=sys.stderr)

    listen(stdin, stdout, handle)


def _exit(signum, frame):
    raise SystemExit(0)


def main() -> int:
    from prometheus_client import multiprocess

    signal.signal(signal.SIGTERM, _exit)
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer, multiprocess.mark_process_dead)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
