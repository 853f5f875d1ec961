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
- binds the web port itself, once (``fcgi-program``, daphne ``--fd 0``): while daphne restarts,
  connections wait in the socket's backlog instead of being refused, and more daphne processes
  could share the socket later (``numprocs``);
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
"""

import os
import signal
import subprocess
import sys
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
# One line per request comes from the app (marketsite.requests, with its request id) and one per
# WebSocket connection (streaming.consumers): daphne's own access log would repeat them.
DAPHNE_QUIET = "--access-log /dev/null"
DAPHNE_ARGS = (
    f"--websocket_timeout -1 --ping-interval 5 --ping-timeout 10 "
    f"--websocket-max-message-size {DAPHNE_MAX_MESSAGE_BYTES} "
    f"--websocket-max-frame-size {DAPHNE_MAX_MESSAGE_BYTES} {DAPHNE_QUIET} "
    "config.asgi:application"
)
# name: (command, priority). Lower priorities start first and stop last.
PROGRAMS = {
    "worker": (
        "celery -A config worker -Q default --concurrency 2 -n worker@%%h --loglevel INFO",
        100,
    ),
    "generator": (
        "celery -A config worker -Q generation --pool solo -n generator@%%h --loglevel INFO",
        200,
    ),
    "web": (f"daphne --fd 0 {DAPHNE_ARGS}", 300),
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


def _process_names(generators: int) -> list[str]:
    names = [*PROGRAMS, HISTORY[0]]
    if generators > 1:
        names += [f"generator-{i}" for i in range(generators)]
    return names


def build_config(
    *,
    host: str,
    port: int,
    folder: Path,
    history: bool = False,
    generators: int = 1,
    metrics: bool = False,
) -> str:
    """The supervisord configuration of the service on ``host:port`` (``history``: with the
    one-shot first-start history; ``generators``: generator workers, one per shard;
    ``metrics``: with the listener that marks ended processes dead for prometheus-client)."""
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
        f"command={BIN / 'python'} -m config.procman_logs {' '.join(_process_names(generators))}",
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
    if history:
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
    for name, (command, priority) in PROGRAMS.items():
        if name == "web":
            lines += [
                "",
                f"[fcgi-program:{name}]",
                f"socket=tcp://{host}:{port}",
                "socket_backlog=1024",
            ]
        else:
            lines += ["", f"[program:{name}]"]
        if name == "generator" and generators > 1:
            # generator-0, generator-1...: each its own Celery node name
            command = command.replace("-n generator@", "-n generator%(process_num)d@")
            lines += [f"numprocs={generators}", "process_name=%(program_name)s-%(process_num)d"]
        lines += [
            f"command={BIN / command}",
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


def write_config(
    *, host: str, port: int, history: bool = False, generators: int = 1, metrics: bool = False
) -> Path:
    folder = runtime_dir(port)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "supervisord.conf"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        build_config(
            host=host,
            port=port,
            folder=folder,
            history=history,
            generators=generators,
            metrics=metrics,
        )
    )
    tmp.replace(path)
    return path


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


def main() -> int:
    port = int(os.environ.get("PORT") or 3000)
    host = os.environ.get("HOST") or "127.0.0.1"
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
    conf = write_config(host=host, port=port, history=history, generators=generators, metrics=True)
    programs = ", ".join(PROGRAMS)
    if generators > 1:
        programs = programs.replace("generator", f"generator x{generators} (one per shard)")
    print(BANNER.format(port=port, programs=programs, conf=conf, metrics=metrics), flush=True)
    supervisord = str(BIN / "supervisord")
    os.execv(supervisord, [supervisord, "-n", "-c", str(conf)])


if __name__ == "__main__":
    sys.exit(main())
