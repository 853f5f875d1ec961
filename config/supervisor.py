"""``python -m config.supervisor [--share] -- <command...>``: run a command with a database and Redis.

With ``DATABASE_URL`` and ``REDIS_URL`` set (environment or ``.env``) it starts nothing. Otherwise
it starts the embedded PostgreSQL and/or Valkey once, in ``EMBEDDED_DATA_DIR`` (default
``.data/``), passes their addresses to the command (``DATABASE_URL``, ``REDIS_URL``), and when the
command ends, or on Ctrl-C/SIGTERM, stops the command first and then the servers.

``--share``: when another supervisor already runs the embedded servers of this folder, use them
(``make superuser`` and ``make bench`` beside a running ``make run``) instead of failing.

``--port PORT`` (``--host``, default ``HOST`` or 127.0.0.1): the port the command will serve on is
checked first, before any server starts (``make run``).

While the command runs, an embedded server that dies (killed, crashed) is started again on the
same port and data folder, at once and then with a growing delay (0.5 s doubling to 30 s) while
it keeps failing; each death and restart is logged.

Ctrl-C in a terminal: the supervisor puts itself and the command in a process group of their own
in the terminal's foreground, so the Ctrl-C reaches them and not a ``make`` above them (which
would report the interrupted recipe as an error); the command stops, then the servers, and a
clean stop ends with "stopped" and exit status 0.

Expected failures (port taken, folder in use, PostgreSQL refusing root...) are one line on
stderr and exit status 1.
"""

import argparse
import logging
import logging.config
import os
import signal
import subprocess
import sys
import time

from config import services
from config.logging import build_logging

logger = logging.getLogger("config.supervisor")
# After Ctrl-C the command's processes stop on their own (they got the signal too); if they have
# not after this long, they get SIGTERM, then SIGKILL.
GRACE_S = 60.0
# Exit statuses of a command that stopped because it was asked to (SIGINT/SIGTERM).
STOPPED_BY_SIGNAL = {0, 128 + signal.SIGINT, 128 + signal.SIGTERM, -signal.SIGINT, -signal.SIGTERM}
# Embedded servers that die are restarted after these delays (the first at once).
RESTART_DELAY_S = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
# A server that stays up this long after a restart starts the delays over.
RESTART_RESET_S = 60.0


class Stop(Exception):
    """SIGTERM/SIGHUP while the servers start."""


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m config.supervisor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--share",
        action="store_true",
        help="use the embedded servers of a supervisor already running",
    )
    parser.add_argument(
        "--port",
        type=int,
        help="check first that this TCP port is free (the command will serve on it)",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST") or "127.0.0.1",
        help="the address of --port (default: HOST, else 127.0.0.1)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command [args...]")
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("a command to run is required, after --")
    return args


def _configure_logging() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    fmt = os.environ.get("LOG_FORMAT", "text")
    try:
        logging.config.dictConfig(build_logging(level=level, fmt=fmt))
    except ValueError:
        logging.config.dictConfig(build_logging(level="INFO", fmt="text"))


def _raise_stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the supervisor dies, even by SIGKILL (Linux), so the command
    never outlives the servers it was given."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _take_terminal():
    """When we run in a terminal's foreground (under ``make``, say): move into a process group of
    our own and make it the foreground one, so a Ctrl-C reaches us and the command only. Returns
    what gives the terminal back, or None (no terminal, or not in its foreground)."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        return None
    try:
        previous = os.tcgetpgrp(tty)
        if previous != os.getpgrp() or os.getpid() == os.getpgrp():
            os.close(tty)
            return None  # in the background, or already a group leader (e.g. run by a shell)
        os.setpgid(0, 0)
        _set_foreground(tty, os.getpgrp())
    except OSError:
        os.close(tty)
        return None

    def give_back() -> None:
        try:
            _set_foreground(tty, previous)
        except OSError:
            pass  # that group is gone
        finally:
            os.close(tty)

    return give_back


def _set_foreground(tty: int, pgrp: int) -> None:
    # A process outside the foreground group that sets it gets SIGTTOU unless it ignores it.
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(tty, pgrp)
    finally:
        signal.signal(signal.SIGTTOU, old)


class _Revival:
    """Restarts the embedded servers that die while the command runs, with a growing delay."""

    def __init__(self, embedded) -> None:
        self.embedded = embedded
        self.failures: dict[str, int] = {}
        self.next_try: dict[str, float] = {}
        self.died_at: dict[str, float] = {}
        self.restarted_at: dict[str, float] = {}

    def check(self) -> None:
        from config.embedded import ServiceError

        now = time.monotonic()
        for name in self.embedded.dead():
            if name not in self.died_at:
                self.died_at[name] = now
                if now - self.restarted_at.get(name, -RESTART_RESET_S) >= RESTART_RESET_S:
                    self.failures[name] = 0
                delay = RESTART_DELAY_S[min(self.failures.get(name, 0), len(RESTART_DELAY_S) - 1)]
                self.next_try[name] = now + delay
                logger.error(
                    "embedded %s died: restarting it%s", name, f" in {delay:g} s" if delay else ""
                )
            if now < self.next_try[name]:
                continue
            try:
                pid = self.embedded.restart(name)
            except ServiceError as exc:
                self.failures[name] = self.failures.get(name, 0) + 1
                delay = RESTART_DELAY_S[min(self.failures[name], len(RESTART_DELAY_S) - 1)]
                self.next_try[name] = time.monotonic() + delay
                logger.error(
                    "embedded %s did not restart (%s): trying again in %g s", name, exc, delay
                )
                continue
            self.failures[name] = self.failures.get(name, 0) + 1
            self.restarted_at[name] = time.monotonic()
            logger.warning(
                "embedded %s restarted (pid %s), %.1f s after it died",
                name,
                pid,
                self.restarted_at[name] - self.died_at.pop(name),
            )


def _run_child(
    command: list[str], env: dict, embedded=None, interrupted: list | None = None
) -> int:
    """Run ``command`` in our process group (so a terminal's Ctrl-C reaches it directly and it
    can read the terminal); SIGTERM/SIGHUP to us are passed on to it. Meanwhile the embedded
    servers that die are started again."""
    try:
        child = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
    except OSError as exc:
        logger.error("cannot run %s: %s", command[0], exc.strerror or exc)
        return 127
    revival = _Revival(embedded) if embedded is not None else None
    interrupted = [] if interrupted is None else interrupted  # the signals we got

    def forward(signum, frame):
        interrupted.append(signum)
        if signum != signal.SIGINT:  # a terminal's SIGINT reached the child already
            child.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    since = None
    while True:
        try:
            returncode = child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        else:
            if interrupted and returncode in STOPPED_BY_SIGNAL:
                return 0  # asked to stop, and it did
            return returncode
        if revival is not None and not interrupted:
            revival.check()
        if interrupted and since is None:
            since = time.monotonic()
        if since is not None and time.monotonic() - since > GRACE_S:
            logger.warning(
                "%s has not stopped %.0f s after the signal: terminating it", command[0], GRACE_S
            )
            child.terminate()
            try:
                return child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                return child.wait()


def _describe(name: str, source: str, url: str, extra: str = "") -> str:
    return f"{name}: {source}{extra} at {services.redacted(url)}"


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    services.read_dotenv()  # as the settings do
    _configure_logging()
    if args.port is not None:
        from config.embedded.ports import port_taken

        if port_taken(args.port, args.host):
            logger.error(
                "port %s on %s is taken (another `make run`, or another server): stop "
                "it, or choose another port, e.g. `make run PORT=%s`",
                args.port,
                args.host,
                args.port + 1,
            )
            return 1
    give_back_terminal = _take_terminal()
    try:
        return _main(args)
    finally:
        if give_back_terminal is not None:
            give_back_terminal()


def _main(args: argparse.Namespace) -> int:
    folder = services.data_dir(os.environ.get("EMBEDDED_DATA_DIR"))
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    env = dict(os.environ)
    lines = []
    if database_url:
        lines.append(_describe("PostgreSQL", "DATABASE_URL", database_url))
    if redis_url:
        lines.append(_describe("Redis", "REDIS_URL", redis_url))
    embedded = None
    if not (database_url and redis_url):
        shared = services.read_state(folder) if args.share else None
        if shared is not None:
            database_url = database_url or shared["database_url"]
            redis_url = redis_url or shared["redis_url"]
            lines.append(
                f"embedded servers of the running supervisor (pid {shared['pid']}) in {folder}"
            )
        else:
            from config.embedded import EmbeddedServices, ServiceError

            signal.signal(signal.SIGTERM, _raise_stop)
            signal.signal(signal.SIGHUP, _raise_stop)
            embedded = EmbeddedServices(folder, database=not database_url, redis=not redis_url)
            try:
                embedded.start()
            except ServiceError as exc:
                logger.error("%s", exc)
                return 1
            except (KeyboardInterrupt, Stop):
                logger.warning("interrupted while starting the embedded servers; stopped them")
                return 130
            if embedded.postgres:
                database_url = embedded.database_url
                lines.append(
                    _describe(
                        "PostgreSQL",
                        "embedded PostgreSQL "
                        f"{embedded.postgres.version()} (started, data in "
                        f"{embedded.postgres.data})",
                        database_url,
                    )
                )
            if embedded.valkey:
                redis_url = embedded.redis_url
                lines.append(
                    _describe(
                        "Redis",
                        f"embedded Valkey {embedded.valkey.version()} "
                        f"(started, data in {embedded.valkey.data})",
                        redis_url,
                    )
                )
    for line in lines:
        logger.info("%s", line)
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url)
    returncode, interrupted = 1, []
    try:
        returncode = _run_child(args.command, env, embedded, interrupted)
        return returncode
    finally:
        if embedded is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this
            logger.info("stopping the embedded servers")
            embedded.stop()
            logger.info("embedded servers stopped")
        if interrupted and returncode == 0:
            logger.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
