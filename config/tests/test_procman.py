"""``make run``: the port checked before anything starts, the service's processes under
supervisord (``config.procman``), restarted when they die, the embedded servers too, and a
Ctrl-C that stops everything and says so.

The end-to-end tests run ``make run`` itself in a pseudo terminal (so Ctrl-C is a real one), on
embedded servers in a temporary folder: they never touch the machine's PostgreSQL or Redis.
"""

import configparser
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
import redis

from config import procman
from config.embedded.postgres import EmbeddedPostgres
from config.procman_logs import serve as serve_logs
from config.procman_metrics import serve as serve_metrics
from testsupport.checks import assert_gap_free, bar_mismatches, grid_report
from testsupport.services import free_port
from testsupport.terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
SYMBOLS = ("ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH")
PREFIX = "procman-e2e"


def _make(*args: str) -> list[str]:
    """``make`` on this virtualenv, without reinstalling the requirements."""
    return ["make", "--no-print-directory", f"VENV={VENV}", "-o", f"{VENV}/bin/.installed", *args]


def _embedded_env(folder: Path, **extra: str) -> dict:
    """No DATABASE_URL/REDIS_URL: `make run` starts its own servers in ``folder``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        EMBEDDED_DATA_DIR=str(folder),
        DJANGO_SETTINGS_MODULE="config.settings.local",
        MARKET_REDIS_PREFIX=PREFIX,
        CHANNEL_LAYER_PREFIX=f"{PREFIX}-asgi",
        LOG_LEVEL="INFO",
        LOG_FORMAT="text",
        PYTHONUNBUFFERED="1",
        FIRST_START_HISTORY_DAYS="0",
        **extra,
    )
    return env


@pytest.fixture
def data_dir():
    root = Path(tempfile.mkdtemp(prefix="sm-procman-test-"))
    root.chmod(0o755)  # as root, PostgreSQL runs as its own user, which must get in
    try:
        yield root / "data"
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- The configuration and the log listener ------------------------------------------------------


def test_the_supervisord_configuration_runs_the_four_processes_as_before(tmp_path):
    from daphne.cli import CommandLineInterface

    conf = configparser.RawConfigParser()
    conf.read_string(procman.build_config(host="127.0.0.1", port=3123, folder=tmp_path))
    web = conf["fcgi-program:web"]
    assert web["socket"] == "tcp://127.0.0.1:3123"  # supervisord binds it, once
    daphne_argv = web["command"].split()
    assert Path(daphne_argv[0]).name == "daphne"
    args = CommandLineInterface().parser.parse_args(daphne_argv[1:])
    assert (
        args.file_descriptor,
        args.websocket_timeout,
        args.ping_interval,
        args.ping_timeout,
        args.websocket_max_message_size,
        args.websocket_max_frame_size,
        args.application,
    ) == (0, -1, 5, 10, 4 * 1024 * 1024, 4 * 1024 * 1024, "config.asgi:application")
    # The app logs each request and connection once: daphne's access log is off altogether.
    assert args.access_log is None and args.verbosity == 0
    commands = {
        name: conf[f"program:{name}"]["command"].split()[1:]
        for name in ("generator", "worker", "beat")
    }
    assert commands["generator"][:7] == [
        "-A",
        "config",
        "worker",
        "-Q",
        "generation",
        "--pool",
        "solo",
    ]
    assert commands["worker"][:7] == [
        "-A",
        "config",
        "worker",
        "-Q",
        "default",
        "--concurrency",
        "2",
    ]
    assert commands["beat"][:3] == ["-A", "config", "beat"]
    for section in ("fcgi-program:web", "program:generator", "program:worker", "program:beat"):
        program = conf[section]
        assert program["autorestart"] == "true" and int(program["startretries"]) >= 10
        assert program["stopasgroup"] == program["killasgroup"] == "true"
        assert program["stdout_events_enabled"] == "true"
    # Stopped in this order (highest priority first), the log listener last.
    order = sorted(conf.sections(), key=lambda s: -int(conf[s].get("priority", 999)))
    assert [s.split(":")[1] for s in order if "priority" in conf[s]] == [
        "beat",
        "web",
        "generator",
        "worker",
        "logs",
    ]


def test_web_concurrency_daphne_processes_share_one_socket(tmp_path, monkeypatch):
    """WEB_CONCURRENCY=3: supervisord binds the port once and runs web-0..2 on it, each daphne
    serving the socket it is handed as fd 0; the image's web-only configuration is the same
    group alone, with the proxy's client addresses."""
    from daphne.cli import CommandLineInterface
    from supervisor.options import ServerOptions

    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    path = tmp_path / "supervisord.conf"
    path.write_text(
        procman.build_config(
            host="127.0.0.1", port=3123, folder=tmp_path, web=procman.web_processes()
        )
    )
    options = ServerOptions()
    options.realize(args=["-c", str(path)])  # supervisord's own reading of it
    groups = {g.name: g for g in options.process_group_configs}
    web = groups["web"]
    assert str(web.socket_config) == "tcp://127.0.0.1:3123"  # one socket for the group
    assert [pc.name for pc in web.process_configs] == ["web-0", "web-1", "web-2"]
    for pc in web.process_configs:
        argv = pc.command.split()
        assert argv[:3] == [procman.web_argv()[0], "--fd", "0"]
        assert argv == procman.web_argv()  # the one command the test stack runs too
    assert "web-2" in groups["logs"].process_configs[0].command  # the log prefix is wide enough
    assert {"generator", "worker", "beat"} <= set(groups)

    only = configparser.RawConfigParser()
    only.read_string(
        procman.build_config(
            host="0.0.0.0", port=3000, folder=tmp_path, web=2, only_web=True, proxy_headers=True
        )
    )
    programs = [s for s in only.sections() if s.startswith(("program:", "fcgi-program:"))]
    assert programs == ["fcgi-program:web"]
    assert only["fcgi-program:web"]["socket"] == "tcp://0.0.0.0:3000"
    assert only["fcgi-program:web"]["numprocs"] == "2"
    args = CommandLineInterface().parser.parse_args(only["fcgi-program:web"]["command"].split()[1:])
    assert args.proxy_headers and args.file_descriptor == 0


@pytest.mark.parametrize("value", ["0", "-1", "65", "two", "1.5"])
def test_web_concurrency_must_be_a_process_count(monkeypatch, value):
    monkeypatch.setenv("WEB_CONCURRENCY", value)
    with pytest.raises(SystemExit, match="WEB_CONCURRENCY must be an integer from 1 to 64"):
        procman.web_processes()


def test_web_concurrency_defaults_to_the_cpus(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert procman.web_processes() == procman.cpu_count() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("WEB_CONCURRENCY", " 4 ")
    assert procman.web_processes() == 4


def test_a_first_start_adds_the_one_shot_history_last(tmp_path):
    plain = configparser.RawConfigParser()
    plain.read_string(procman.build_config(host="127.0.0.1", port=3123, folder=tmp_path))
    assert "program:history" not in plain.sections()
    first = configparser.RawConfigParser()
    first.read_string(
        procman.build_config(host="127.0.0.1", port=3123, folder=tmp_path, history=True)
    )
    history = first["program:history"]
    assert history["command"].split()[1:] == ["manage.py", "first_start_history"]
    assert history["autorestart"] == "false"  # it exits when done
    assert int(history["priority"]) > max(
        int(first[s]["priority"])
        for s in first.sections()
        if s != "program:history" and "priority" in first[s]
    )
    assert set(plain.sections()) == set(first.sections()) - {"program:history"}


def test_one_generator_worker_per_generation_shard(tmp_path, monkeypatch):
    """GENERATION_SHARDS=3: supervisord runs generator-0..2, each its own Celery node."""
    from supervisor.options import ServerOptions

    monkeypatch.setenv("GENERATION_SHARDS", "3")
    path = tmp_path / "supervisord.conf"
    path.write_text(
        procman.build_config(
            host="127.0.0.1", port=3123, folder=tmp_path, generators=procman.generator_workers()
        )
    )
    options = ServerOptions()
    options.realize(args=["-c", str(path)])  # supervisord's own reading of it
    groups = {g.name: g.process_configs for g in options.process_group_configs}
    generators = {pc.name: pc.command.split() for pc in groups["generator"]}
    assert sorted(generators) == ["generator-0", "generator-1", "generator-2"]
    for i in range(3):
        argv = generators[f"generator-{i}"]
        assert argv[argv.index("-n") + 1] == f"generator{i}@%h"
        assert argv[argv.index("-Q") + 1] == "generation"
    assert "generator-2" in groups["logs"][0].command  # the log prefix is wide enough
    # one shard: the one generator, exactly as before
    single = configparser.RawConfigParser()
    single.read_string(procman.build_config(host="127.0.0.1", port=3123, folder=tmp_path))
    assert "numprocs" not in single["program:generator"]
    monkeypatch.setenv("GENERATION_SHARDS", "0")
    with pytest.raises(SystemExit, match="GENERATION_SHARDS"):
        procman.generator_workers()


def test_the_log_listener_prefixes_whole_lines_with_the_process_name():
    import io

    def event(name: str, data: bytes) -> bytes:
        payload = f"processname:{name} groupname:{name} pid:1 channel:stdout\n".encode() + data
        return (
            f"ver:3.0 server:supervisor serial:1 pool:logs poolserial:1 "
            f"eventname:PROCESS_LOG_STDOUT len:{len(payload)}\n"
        ).encode() + payload

    stdin = io.BytesIO(
        event("generator", b"one\ntw") + event("web", "é\n".encode()) + event("generator", b"o\n")
    )
    stdout, out = io.BytesIO(), io.BytesIO()
    serve_logs(stdin, stdout, out, ["web", "generator", "worker", "beat"])
    assert out.getvalue().decode() == ("generator | one\nweb       | é\ngenerator | two\n")
    assert stdout.getvalue() == b"READY\nRESULT 2\nOK" * 3 + b"READY\n"


def test_with_metrics_a_listener_marks_ended_processes_dead(tmp_path):
    conf = configparser.RawConfigParser()
    conf.read_string(
        procman.build_config(host="127.0.0.1", port=3123, folder=tmp_path, metrics=True)
    )
    listener = conf["eventlistener:metrics"]
    assert listener["command"].split()[1:] == ["-m", "config.procman_metrics"]
    assert set(listener["events"].split(",")) == {"PROCESS_STATE_EXITED", "PROCESS_STATE_STOPPED"}
    # Started right after the log listener, stopped right before it: it hears every process end.
    order = sorted(conf.sections(), key=lambda s: -int(conf[s].get("priority", 999)))
    assert [s.split(":")[1] for s in order if "priority" in conf[s]][-3:] == [
        "worker",
        "metrics",
        "logs",
    ]


def test_the_metrics_directory_is_created_and_emptied_of_the_last_run(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDDED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    default = procman.prepare_metrics_dir(3123)
    assert default == tmp_path / "data" / "procman-3123" / "metrics" and default.is_dir()
    chosen = tmp_path / "mine"
    chosen.mkdir()
    for name in ("counter_12.db", "gauge_livesum_12.db", "histogram_7.db", "notes.txt"):
        (chosen / name).write_text("x")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(chosen))
    assert procman.prepare_metrics_dir(3123) == chosen
    assert sorted(p.name for p in chosen.iterdir()) == ["notes.txt"]  # only the library's files


def test_the_metrics_listener_marks_exited_and_stopped_processes_dead():
    import io

    def event(name: str, payload: str) -> bytes:
        data = payload.encode()
        return (
            f"ver:3.0 server:supervisor serial:1 pool:metrics poolserial:1 "
            f"eventname:{name} len:{len(data)}\n"
        ).encode() + data

    stdin = io.BytesIO(
        event(
            "PROCESS_STATE_EXITED",
            "processname:web groupname:web from_state:RUNNING expected:0 pid:4242",
        )
        + event(
            "PROCESS_STATE_RUNNING", "processname:web groupname:web from_state:STARTING pid:4343"
        )
        + event(
            "PROCESS_STATE_STOPPED",
            "processname:worker groupname:worker from_state:STOPPING pid:4444",
        )
    )
    stdout, dead = io.BytesIO(), []
    serve_metrics(stdin, stdout, dead.append)
    assert dead == [4242, 4444]
    assert stdout.getvalue() == b"READY\nRESULT 2\nOK" * 3 + b"READY\n"


# --- A taken port -----------------------------------------------------------------------------------


def test_make_run_on_a_taken_port_says_so_in_one_line_and_starts_nothing(data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            _make("run", f"PORT={port}"),
            cwd=ROOT,
            env=_embedded_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert elapsed < 10
    output = (result.stdout + result.stderr).splitlines()
    ours = [line for line in output if line.strip() and not line.startswith("make")]
    assert len(ours) == 1, output
    assert f"port {port} on 127.0.0.1 is taken" in ours[0]
    assert not data_dir.exists()  # no embedded server started, nothing migrated


# --- The whole service under `make run` -------------------------------------------------------------


class Service:
    """`make run` in a terminal, on embedded servers in a temporary folder."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sm-procman-e2e-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.port = free_port()
        self.conf = self.data / f"procman-{self.port}" / "supervisord.conf"
        self.terminal = Terminal(
            _make("run", f"PORT={self.port}"),
            cwd=ROOT,
            env=_embedded_env(self.data, WEB_CONCURRENCY="2"),
        )

    def state(self) -> dict:
        return json.loads((self.data / "services.json").read_text())

    def ctl(self, *args: str) -> str:
        return subprocess.run(
            [str(VENV / "bin" / "supervisorctl"), "-c", str(self.conf), *args],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()

    def pid(self, name: str) -> int:
        return int(self.ctl("pid", name))

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.state()["redis_url"], socket_timeout=2)

    def quote_ms(self, symbol: str = "SYNTH") -> int:
        raw = self.redis().hget(f"{PREFIX}:quotes", symbol)
        return json.loads(raw)["timestamp"] if raw else 0

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(
            self.state()["database_url"].replace("postgres://", "postgresql://"),
            autocommit=True,
            connect_timeout=3,
        )

    def stored_until_ms(self) -> int:
        with self.connect() as conn:
            latest = conn.execute("SELECT max(time) FROM ticks_tick").fetchone()[0]
        return int(latest.timestamp() * 1000) if latest else 0

    def grid(self):
        with self.connect() as conn, conn.cursor() as cur:
            return grid_report(cur), bar_mismatches(cur)

    def drained(self) -> bool:
        client = self.redis()
        return int(client.get(f"{PREFIX}:buffer:ticks") or 0) == 0 and not client.exists(
            f"{PREFIX}:dirty", f"{PREFIX}:lock:flush", f"{PREFIX}:lock:rollup"
        )

    def ready(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=10) as answer:
            return answer.status == 200

    def close(self) -> None:
        try:
            self.terminal.close()
        finally:
            EmbeddedPostgres(self.data / "postgres", port=0).stop()  # if anything is left
            shutil.rmtree(self.root, ignore_errors=True)


def _until(predicate, *, timeout: float, what: str, service: Service) -> float:
    """Seconds until ``predicate()`` holds (errors count as not yet)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if predicate():
                return time.monotonic() - started
        except (OSError, redis.RedisError, psycopg.Error, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"not {what} within {timeout} s\n{service.terminal.output()[-8000:]}")


@pytest.fixture(scope="module")
def service():
    service = Service()
    try:
        service.terminal.wait_for(r"success: beat entered RUNNING", timeout=180)
        _until(
            lambda: service.quote_ms() > 0 and service.stored_until_ms() > 0,
            timeout=60,
            what="ticks generated and stored",
            service=service,
        )
        yield service
    finally:
        service.close()


def _gap_free_so_far(service: Service) -> None:
    """Every grid point stored so far, exactly once (the flushed ticks are a gap-free prefix)."""
    report, _ = service.grid()
    assert_gap_free(report, SYMBOLS, min_count=1)


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("name", ["generator", "worker", "web:web-0"])
def test_a_killed_process_comes_back_by_itself_within_10_s(service, name):
    old = service.pid(name)
    os.kill(old, signal.SIGKILL)
    killed_ms = time.time() * 1000
    if name.startswith("web"):
        # WEB_CONCURRENCY=2: the other daphne on the same socket serves meanwhile.
        other = service.pid("web:web-1")
        assert other not in (0, old)
        for _ in range(5):
            assert service.ready()
    back = {
        # Ticks of after the kill: a new generator is generating.
        "generator": lambda: service.quote_ms() > killed_ms + 500,
        # Ticks of after the kill stored: a new worker is flushing.
        "worker": lambda: service.stored_until_ms() > killed_ms + 500,
        "web:web-0": service.ready,
    }[name]
    seconds = _until(
        lambda: back() and service.pid(name) not in (0, old),
        timeout=10,
        what=f"{name} back",
        service=service,
    )
    print(f"{name} back {seconds:.1f} s after SIGKILL")
    process = name.split(":")[-1]
    assert f"exited: {process} (terminated by SIGKILL; not expected)" in service.terminal.output()
    _gap_free_so_far(service)


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("name", ["Valkey", "PostgreSQL"])
def test_a_killed_embedded_server_comes_back(service, name):
    if name == "Valkey":
        old = service.state()["valkey_pid"]
    else:
        old = int((service.data / "postgres" / "postmaster.pid").read_text().split()[0])
    since = len(service.terminal.output())
    os.kill(old, signal.SIGKILL)
    killed, killed_ms = time.monotonic(), time.time() * 1000
    restarted = service.terminal.wait_for(
        rf"embedded {name} restarted \(pid \d+\), ([\d.]+) s "
        "after it died",
        timeout=30,
        since=since,
    )
    # The service carries on: new ticks generated (through Redis) and stored (in PostgreSQL).
    _until(
        lambda: (
            service.quote_ms() > killed_ms + 500 and service.stored_until_ms() > killed_ms + 500
        ),
        timeout=60,
        what=f"ticks generated and stored after {name} came back",
        service=service,
    )
    print(
        f"embedded {name} restarted {restarted.group(1)} s after SIGKILL; ticks generated and "
        f"stored again after {time.monotonic() - killed:.1f} s"
    )
    _gap_free_so_far(service)


def _metrics(service: Service) -> dict[tuple, float]:
    from prometheus_client.parser import text_string_to_metric_families

    url = f"http://127.0.0.1:{service.port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.e2e
@pytest.mark.slow
def test_one_metrics_directory_for_every_process_and_a_killed_web_is_forgotten(service):
    """``make run`` prepares the metrics directory, daphne answers for the generator and the
    worker, and when daphne is killed the listener marks it dead: its WebSocket client is no
    longer counted."""
    from websockets.sync.client import connect

    directory = service.data / f"procman-{service.port}" / "metrics"
    shard, ws = (("shard", "0/1"),), (("protocol", "ws"),)
    _until(
        lambda: (
            _metrics(service).get(("market_ticks_generated_total", shard), 0) > 0
            and _metrics(service).get(("market_ticks_stored_total", ()), 0) > 0
        ),
        timeout=30,
        what="the generator's and the worker's metrics served by daphne",
        service=service,
    )
    with connect(f"ws://127.0.0.1:{service.port}/ws"):
        _until(
            lambda: _metrics(service).get(("market_stream_clients", ws)) == 1,
            timeout=10,
            what="the WebSocket client counted",
            service=service,
        )
        # WEB_CONCURRENCY=2 on one socket: the client is on one of the two daphne processes.
        # Both are killed: the listener forgets each one's live gauges.
        webs = [service.pid("web:web-0"), service.pid("web:web-1")]
        assert any((directory / f"gauge_livesum_{p}.db").exists() for p in webs)
        for web in webs:
            os.kill(web, signal.SIGKILL)
        _until(
            lambda: not any((directory / f"gauge_livesum_{p}.db").exists() for p in webs),
            timeout=10,
            what="the killed daphnes' live gauges removed",
            service=service,
        )
    _until(service.ready, timeout=15, what="web back", service=service)
    assert _metrics(service).get(("market_stream_clients", ws), 0) == 0
    assert any((directory / f"counter_{p}.db").exists() for p in webs)  # counters stay


@pytest.mark.e2e
@pytest.mark.slow
def test_every_grid_point_once_and_ctrl_c_stops_everything_cleanly(service):
    """Last (it stops the service): the generator stopped and the buffer drained, every grid
    point since the start is stored exactly once and the bars match the ticks; then Ctrl-C.
    (xdist may run another module's test in between, and the module's service is then a fresh
    one: it waits for its own ten seconds of ticks.)"""
    _until(
        lambda: (
            (report := service.grid()[0])
            and all(report.get(symbol, {}).get("count", 0) >= 100 for symbol in SYMBOLS)
        ),
        timeout=60,
        what="ten seconds of ticks stored",
        service=service,
    )
    service.ctl("stop", "generator")
    _until(service.drained, timeout=60, what="the buffer drained", service=service)
    time.sleep(2.5)  # one more bar refresh
    report, mismatched_bars = service.grid()
    assert_gap_free(report, SYMBOLS, min_count=100)
    assert mismatched_bars == 0
    since = len(service.terminal.output())
    service.terminal.ctrl_c()
    assert service.terminal.wait(timeout=90) == 0
    after = service.terminal.output()[since:]
    lines = [line for line in after.splitlines() if line.strip()]
    assert lines[-1].endswith("config.supervisor [-] stopped"), after
    assert not re.search(r"^make(\[\d+\])?: \*\*\*", after, re.MULTILINE), after
    for earlier, later in (
        ("stopped: beat", "stopped: web"),
        ("stopped: web", "stopped: worker"),
        ("stopped: worker", "stopping the embedded servers"),
        ("stopping the embedded servers", "embedded servers stopped"),
    ):
        assert after.index(earlier) < after.index(later), after
    assert not (service.data / "services.json").exists()
    assert not (service.data / "postgres" / "postmaster.pid").exists()
