"""``python -m config.procman_logs NAME...``: supervisord's event listener (supervisord's
documented listener protocol, ``PROCESS_LOG`` events) that prints every line the service's
processes write, prefixed with the process's name, as honcho did::

    generator | 2026-01-15 10:30:45,123 INFO    celery.worker ...

The lines go to this listener's stderr, which supervisord passes to its own stdout (stdout is the
protocol's channel). A line split across two events is printed once it is complete. The names
given on the command line set the prefix's width.
"""

import signal
import sys

from config.procman_listener import fields, listen

MAX_PENDING = 64 * 1024  # a "line" without an end this long is printed as it is


def serve(stdin, stdout, out, names: list[str]) -> None:
    width = max([len(name) for name in names] + [3])
    pending: dict[bytes, bytes] = {}

    def handle(header: dict, payload: bytes) -> None:
        first, _, data = payload.partition(b"\n")
        name = fields(first).get(b"processname", b"?")
        text = pending.pop(name, b"") + data
        lines = text.split(b"\n")
        rest = lines.pop()
        if len(rest) > MAX_PENDING:
            lines.append(rest)
        elif rest:
            pending[name] = rest
        if lines:
            prefix = name.ljust(width) + b" | "
            out.write(b"".join(prefix + line.rstrip(b"\r") + b"\n" for line in lines))
            out.flush()

    listen(stdin, stdout, handle)


def _exit(signum, frame):
    raise SystemExit(0)  # supervisord stops it last, with SIGTERM: a normal end


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _exit)
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer, argv)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
