"""``python -m config.procman``: the service's four processes under supervisord (what ``make run``
runs inside ``python -m config.supervisor``, which provides ``DATABASE_URL`` and ``REDIS_URL``).

It creates the database if missing, migrates, collects the static files, prints the URLs, writes
a supervisord configuration and becomes ``supervisord -n`` (in the foreground). supervisord
(PyPI ``supervisor``) then:

- starts ``worker``, ``generator``, ``web`` and ``beat`` in that order (``PROGRAMS``); with
  ``GENERATION_SHARDS=N`` above 1, N generator workers (``generator-0`` ... ``generator-<N-1>``,
  one per shard, each free to take any shard: they split the load and stand in for each other);
- restarts any of them that exits or is killed, at once; one that dies again before it has run
  ``START_SECONDS`` is retried after 1, 2, 3... s, ``START_RETRIES`` times;
- binds the web port itself, once (``fcgi-program``), and hands that one listening socket to
  ``WEB_CONCURRENCY`` daphne processes (default: the number of CPUs; ``web-0``, ``web-1``... when
  more than one) as their fd 0 (``daphne --fd 0``): each accepts connections from it, so they
  share the port without a balancer, and while one restarts the others serve (with one,
  connections wait in the socket's backlog instead of being refused);
- sends every line the processes write through ``config.procman_logs``, which prints it
  prefixed with the process's name (``web       | ...``);
- on Ctrl-C or SIGTERM stops ``beat``, ``web``, ``generator`` and then ``worker`` (so the last
  ticks are flushed), each with SIGTERM to its process group, and exits 0.

Metrics: every process writes its Prometheus metrics to one directory, ``PROMETHEUS_MULTIPROC_DIR``
(default ``metrics`` in the folder below), created and emptied of the previous run's files here,
before any process starts, so that any web process answers ``/metrics`` for all of them; the
``metrics`` event listener (``config.procman_metrics``) tells prometheus-client when one ends.

``supervisorctl -c <folder>/supervisord.conf status`` (folder: ``procman-<PORT>`` in the embedded
servers' folder, printed at start) shows and controls the running processes.

``python -m config.procman web [--proxy-headers]``: the web processes alone, the same way (the
Docker image's command: the other processes are services of their own there). It migrates
nothing; its configuration goes to a temporary folder when the data folder is not writable.
"""

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from config import services

ROOT = services.BASE_DIR
BIN = Path(sys.executable).parent
START_SECONDS = 5
START_RETRIES = 100
STOP_WAIT_SECONDS = 15
# Daphne: no WebSocket time limit (a 24/7 feed); clients that stop answering pings are cut off;
# messages (and frames) up to 4 MiB reach the application, which answers anything over WS_MAX_MESSAGE_BYTES
# with its own error (daphne's default, 1 MiB, would drop the connection without a word).
DAPHNE_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# daphne serves the listening socket it is handed as fd 0 (supervisord's fcgi-program binds it).
# One line per request comes from the app (marketsite.requests, with its request id) and one per
# WebSocket connection (streaming.consumers): daphne's own access log would repeat them. Verbosity
# 0 turns it off altogether (`--access-log /dev/null` still formatted a line per request: 8% of
# a trivial answer's cost).
DAPHNE_OPTIONS = (
    "--fd",
    "0",
    "--websocket_timeout",
    "-1",
    "--ping-interval",
    "5",
    "--ping-timeout",
    "10",
    "--websocket-max-message-size",
    str(DAPHNE_MAX_MESSAGE_BYTES),
    "--websocket-max-frame-size",
    str(DAPHNE_MAX_MESSAGE_BYTES),
    "--verbosity",
    "0",
)
ASGI_APPLICATION = "config.asgi:application"


def web_argv(*, proxy_headers: bool = False) -> list[str]:
    """One web process: daphne on the listening socket it finds as its fd 0 (what supervisord's
    ``fcgi-program`` hands it; the test stack hands it the same way). ``proxy_headers``: the
    client's address from ``X-Forwarded-For`` (behind compose's proxy)."""
    extra = ["--proxy-headers"] if proxy_headers else []
    return [str(BIN / "daphne"), *DAPHNE_OPTIONS, *extra, ASGI_APPLICATION]


# Celery workers skip the start-up handshake with their peers: mingle waits a second for
# revoked-task lists we never use, and the workers coordinate through Redis leases, not gossip.
# A killed worker serves again that much sooner. (The test stack starts them with these too.)
WORKER_OPTIONS = ("--without-mingle", "--without-gossip")

# name: (command, priority). Lower priorities start first and stop last.
PROGRAMS = {
    "worker": (
        "celery -A config worker -Q default --concurrency 2 -n worker@%%h --loglevel INFO "
        + " ".join(WORKER_OPTIONS),
        100,
    ),
    "generator": (
        "celery -A config worker -Q generation --pool solo -n generator@%%h --loglevel INFO "
        + " ".join(WORKER_OPTIONS),
        200,
    ),
    "web": (None, 300),  # web_argv(): daphne on the socket supervisord binds
    "beat": ("celery -A config beat --loglevel INFO --schedule .celerybeat-schedule", 400),
}


def runtime_dir(port: int) -> Path:
    """Where supervisord's configuration, pid file and control socket go, per port."""
    return services.data_dir(os.environ.get("EMBEDDED_DATA_DIR")) / f"procman-{port}"


def prepare_metrics_dir(port: int) -> Path:
    """The host's metrics directory (``PROMETHEUS_MULTIPROC_DIR``, else ``metrics`` in the
    runtime folder), created, and emptied of a previous run's files (prometheus-client's
    ``*.db``; nothing else is touched): once, before any process starts."""
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or runtime_dir(port) / "metrics")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    return folder


# Run once, last, on a first start only (no tick stored yet): the history behind the live market
# (FIRST_START_HISTORY_DAYS, ticks/first_start.py). Not restarted: it exits when done.
HISTORY = ("history", "python manage.py first_start_history", 500)


def generator_workers() -> int:
    """How many generator workers ``make run`` starts: one per generation shard."""
    value = os.environ.get("GENERATION_SHARDS") or "1"
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise SystemExit(f"GENERATION_SHARDS must be an integer of at least 1, not {value!r}")
    return count


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, as ``os.process_cpu_count`` reads it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


MAX_WEB_PROCESSES = 64


def web_processes() -> int:
    """How many daphne processes serve the web port: ``WEB_CONCURRENCY``, default the CPUs."""
    value = (os.environ.get("WEB_CONCURRENCY") or "").strip()
    if not value:
        return cpu_count()
    try:
        count = int(value)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_WEB_PROCESSES:
        raise SystemExit(
            f"WEB_CONCURRENCY must be an integer from 1 to {MAX_WEB_PROCESSES} (daphne processes "
            f"on the web port; unset: one per CPU), not {value!r}"
        )
    return count


def _numbered(name: str, count: int) -> list[str]:
    return [f"{name}-{i}" for i in range(count)] if count > 1 else [name]


def _process_names(programs, generators: int, web: int) -> list[str]:
    names = []
    for name in [*programs, HISTORY[0]]:
        count = {"generator": generators, "web": web}.get(name, 1)
        names += [name] if count == 1 else [name, *_numbered(name, count)]
    return names


def build_config(
    *,
    host: str,
    port: int,
    folder: Path,
    history: bool = False,
    generators: int = 1,
    metrics: bool = False,
    web: int = 1,
    only_web: bool = False,
    proxy_headers: bool = False,
) -> str:
    """The supervisord configuration of the service on ``host:port`` (``history``: with the
    one-shot first-start history; ``generators``: generator workers, one per shard; ``metrics``:
    with the listener that marks ended processes dead for prometheus-client; ``web``: daphne
    processes on the one socket; ``only_web``: those alone, ``proxy_headers`` passed to
    daphne)."""
    programs = {"web": PROGRAMS["web"]} if only_web else PROGRAMS
    lines = [
        "; Written by config/procman.py at every start: edits are lost.",
        "[supervisord]",
        "nodaemon=true",
        "logfile=/dev/null",  # supervisord's own lines go to its stdout (nodaemon)
        "logfile_maxbytes=0",
        f"pidfile={folder / 'supervisord.pid'}",
        f"childlogdir={folder}",
    ]
    if os.geteuid() == 0:
        lines.append("user=root")  # say so, instead of a warning at every start
    lines += [
        "",
        "[unix_http_server]",
        f"file={folder / 'supervisor.sock'}",
        "chmod=0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{folder / 'supervisor.sock'}",
        "",
        # Started first and stopped last, so that no process's last lines are lost.
        "[eventlistener:logs]",
        f"command={BIN / 'python'} -m config.procman_logs "
        + " ".join(_process_names(programs, generators, web)),
        "events=PROCESS_LOG",
        "buffer_size=10000",
        f"directory={ROOT}",
        "priority=1",
        "autorestart=true",
        "stdout_logfile=NONE",
        "stderr_logfile=/dev/stdout",
        "stderr_logfile_maxbytes=0",
        'environment=PYTHONUNBUFFERED="1"',
    ]
    if metrics:
        # Started after the log listener, stopped just before it: it hears every process end.
        lines += [
            "",
            "[eventlistener:metrics]",
            f"command={BIN / 'python'} -m config.procman_metrics",
            "events=PROCESS_STATE_EXITED,PROCESS_STATE_STOPPED",
            f"directory={ROOT}",
            "priority=2",
            "autorestart=true",
            "stdout_logfile=NONE",
            "stderr_logfile=/dev/stdout",
            "stderr_logfile_maxbytes=0",
            'environment=PYTHONUNBUFFERED="1"',
        ]
    if history and not only_web:
        name, command, priority = HISTORY
        lines += [
            "",
            f"[program:{name}]",
            f"command={BIN / command}",
            f"directory={ROOT}",
            f"priority={priority}",
            "autostart=true",
            "autorestart=false",
            "startsecs=0",
            "stopsignal=TERM",
            f"stopwaitsecs={STOP_WAIT_SECONDS}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=NONE",
            "stdout_events_enabled=true",
            'environment=PYTHONUNBUFFERED="1"',
        ]
    for name, (command, priority) in programs.items():
        if name == "web":
            # One socket, bound here once, for every daphne of the group (fd 0 of each).
            lines += [
                "",
                f"[fcgi-program:{name}]",
                f"socket=tcp://{host}:{port}",
                "socket_backlog=1024",
            ]
            if web > 1:
                lines += [f"numprocs={web}", "process_name=%(program_name)s-%(process_num)d"]
        else:
            lines += ["", f"[program:{name}]"]
        if name == "generator" and generators > 1:
            # generator-0, generator-1...: each its own Celery node name
            command = command.replace("-n generator@", "-n generator%(process_num)d@")
            lines += [f"numprocs={generators}", "process_name=%(program_name)s-%(process_num)d"]
        if name == "web":
            command = shlex.join(web_argv(proxy_headers=proxy_headers))
        lines += [
            f"command={BIN / command}",  # an absolute command stays as it is
            f"directory={ROOT}",
            f"priority={priority}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={START_SECONDS}",
            f"startretries={START_RETRIES}",
            "stopsignal=TERM",
            f"stopwaitsecs={STOP_WAIT_SECONDS}",
            "stopasgroup=true",  # the worker's pool processes too
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=NONE",
            "stdout_events_enabled=true",  # to config.procman_logs
            'environment=PYTHONUNBUFFERED="1"',
        ]
    return "\n".join(lines) + "\n"


def write_config(*, host: str, port: int, folder: Path | None = None, **options) -> Path:
    folder = folder or runtime_dir(port)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "supervisord.conf"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(build_config(host=host, port=port, folder=folder, **options))
    tmp.replace(path)
    return path


def _writable_runtime_dir(port: int) -> Path:
    """``runtime_dir``, or a folder in the temp dir when that cannot be written (a container
    whose code is read-only to its user)."""
    folder = runtime_dir(port)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / f"synthetic-market-procman-{port}"


BANNER = """
  Synthetic market starting (Ctrl-C stops everything):
    dashboard   http://localhost:{port}/
    REST API    http://localhost:{port}/api/v1/tickers
    WebSocket   ws://localhost:{port}/ws
    admin       http://localhost:{port}/admin/  (make superuser)
    readiness   http://localhost:{port}/readyz
    metrics     http://localhost:{port}/metrics  (every process's, from {metrics})
  Processes: {programs} (restarted when they die);
    supervisorctl -c {conf} status
"""


def _supervisord(conf: Path):
    supervisord = str(BIN / "supervisord")
    os.execv(supervisord, [supervisord, "-n", "-c", str(conf)])


def _web_label(web: int) -> str:
    return f"web x{web} (one socket)" if web > 1 else "web"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.procman", description=__doc__)
    parser.add_argument(
        "only", nargs="?", choices=["web"], help="web: the web processes alone (the image's CMD)"
    )
    parser.add_argument(
        "--proxy-headers",
        action="store_true",
        help="with web: daphne takes the client's address from X-Forwarded-For",
    )
    args = parser.parse_args(argv)
    port = int(os.environ.get("PORT") or 3000)
    host = os.environ.get("HOST") or "127.0.0.1"
    web = web_processes()
    if args.only == "web":
        conf = write_config(
            host=host,
            port=port,
            folder=_writable_runtime_dir(port),
            web=web,
            only_web=True,
            proxy_headers=args.proxy_headers,
            metrics=bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR")),
        )
        print(f"  {_web_label(web)} on {host}:{port}; supervisorctl -c {conf} status", flush=True)
        _supervisord(conf)
    generators = generator_workers()
    python = str(BIN / "python")
    steps = (
        [python, "-m", "config.ensure_database"],
        [python, "manage.py", "migrate", "--noinput"],
        [python, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
    )
    try:
        for step in steps:
            returncode = subprocess.call(step, cwd=ROOT)
            if returncode != 0:
                return returncode
        # Exit 0: no tick stored yet, a first start (ticks/first_start.py); 3: history exists.
        history = (
            subprocess.call([python, "manage.py", "first_start_history", "--check"], cwd=ROOT) == 0
        )
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    # Every process below inherits it; the library reads it when it is imported.
    metrics = prepare_metrics_dir(port)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    conf = write_config(
        host=host, port=port, history=history, generators=generators, web=web, metrics=True
    )
    programs = ", ".join(PROGRAMS)
    if generators > 1:
        programs = programs.replace("generator", f"generator x{generators} (one per shard)")
    programs = programs.replace("web", _web_label(web))
    print(BANNER.format(port=port, programs=programs, conf=conf, metrics=metrics), flush=True)
    _supervisord(conf)


if __name__ == "__main__":
    sys.exit(main())
