"""``python -m config.supervisor [--share] -- <command...>``: run a command with a database and Redis.

With ``DATABASE_URL`` and ``REDIS_URL`` set (environment or ``.env``) it starts nothing. Otherwise
it starts the embedded PostgreSQL and/or Valkey once, in ``EMBEDDED_DATA_DIR`` (default
``.data/``), passes their addresses to the command (``DATABASE_URL``, ``REDIS_URL``), and when the
command ends, or on Ctrl-C/SIGTERM, stops the command first and then the servers.

``--share``: when another supervisor already runs the embedded servers of this folder, use them
(``make superuser`` and ``make bench`` beside a running ``make run``) instead of failing.

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

import environ

from config import services
from config.logging import build_logging

logger = logging.getLogger("config.supervisor")
# After Ctrl-C the command's processes stop on their own (they got the signal too); if they have
# not after this long, they get SIGTERM, then SIGKILL.
GRACE_S = 20.0


class Stop(Exception):
    """SIGTERM/SIGHUP while the servers start."""


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m config.supervisor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--share", action="store_true",
                        help="use the embedded servers of a supervisor already running")
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


def _run_child(command: list[str], env: dict) -> int:
    """Run ``command`` in our process group (so a terminal's Ctrl-C reaches it directly and it
    can read the terminal); SIGTERM/SIGHUP to us are passed on to it."""
    try:
        child = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
    except OSError as exc:
        logger.error("cannot run %s: %s", command[0], exc.strerror or exc)
        return 127
    interrupted = []

    def forward(signum, frame):
        interrupted.append(signum)
        if signum != signal.SIGINT:  # a terminal's SIGINT reached the child already
            child.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    since = None
    while True:
        try:
            return child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        if interrupted and since is None:
            since = time.monotonic()
        if since is not None and time.monotonic() - since > GRACE_S:
            logger.warning("%s has not stopped %.0f s after the signal: terminating it",
                           command[0], GRACE_S)
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
    environ.Env.read_env(services.BASE_DIR / ".env", overwrite=False)  # as the settings do
    _configure_logging()
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
            lines.append(f"embedded servers of the running supervisor (pid {shared['pid']}) "
                         f"in {folder}")
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
                lines.append(_describe("PostgreSQL", "embedded PostgreSQL "
                                       f"{embedded.postgres.version()} (started, data in "
                                       f"{embedded.postgres.data})", database_url))
            if embedded.valkey:
                redis_url = embedded.redis_url
                lines.append(_describe("Redis", f"embedded Valkey {embedded.valkey.version()} "
                                       f"(started, data in {embedded.valkey.data})", redis_url))
    for line in lines:
        logger.info("%s", line)
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url)
    try:
        return _run_child(args.command, env)
    finally:
        if embedded is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this
            logger.info("stopping the embedded servers")
            embedded.stop()
            logger.info("embedded servers stopped")


if __name__ == "__main__":
    sys.exit(main())
