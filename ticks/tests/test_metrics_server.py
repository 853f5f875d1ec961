"""``manage.py metrics_server``: a host's metrics directory served without a web process (Celery
workers on other hosts), behind the same access rule as ``/metrics``, optionally while it runs
the worker command itself (docker-compose.yml's worker)."""

import os
import subprocess
import sys
from pathlib import Path
from wsgiref.util import setup_testing_defaults

from prometheus_client.parser import text_string_to_metric_families

from testsupport.services import free_port
from ticks.metrics_server import metrics_app

from .test_metrics import _write_metrics

ROOT = Path(__file__).resolve().parents[2]


def _call(app, path: str, **environ) -> tuple[str, dict, bytes]:
    env = {"PATH_INFO": path, "REMOTE_ADDR": "127.0.0.1", **environ}
    setup_testing_defaults(env)
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(app(env, start_response))
    return answer["status"], answer["headers"], body


def test_it_serves_the_directory_to_admitted_clients_only(tmp_path, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.METRICS_TOKEN = "worker-scrape-key"
    _write_metrics(tmp_path, 9)
    app = metrics_app(str(tmp_path))
    status, headers, body = _call(app, "/metrics")
    assert status == "200 OK" and headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["market_ticks_stored"].samples[0].value == 9
    assert "market_flush_backlog_ticks" not in families  # Redis gauges: the web endpoint's
    status, headers, body = _call(app, "/metrics", REMOTE_ADDR="10.1.1.1")
    assert status == "401 Unauthorized" and headers["WWW-Authenticate"].startswith("Bearer")
    assert b"market_" not in body
    status, _, _ = _call(
        app, "/metrics", REMOTE_ADDR="10.1.1.1", HTTP_AUTHORIZATION="Bearer worker-scrape-key"
    )
    assert status == "200 OK"
    settings.METRICS_TOKEN = ""
    assert _call(app, "/metrics", REMOTE_ADDR="10.1.1.1")[0] == "403 Forbidden"
    assert _call(app, "/elsewhere")[0] == "404 Not Found"


SCRAPE_AND_EXIT = """
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%d/metrics", timeout=10).read().decode()
print([line for line in text.splitlines() if line.startswith("market_ticks_stored_total")])
sys.exit(3)
"""


def _manage(*args: str, directory: Path | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if directory is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return subprocess.run(
        [sys.executable, "manage.py", "metrics_server", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_serves_while_its_command_runs_and_exits_with_the_commands_status(tmp_path):
    _write_metrics(tmp_path, 4)
    port = free_port()
    done = _manage(
        "--port",
        str(port),
        "--",
        sys.executable,
        "-c",
        SCRAPE_AND_EXIT % port,
        directory=tmp_path,
    )
    assert done.returncode == 3, done.stderr
    assert f"metrics of {tmp_path} at http://127.0.0.1:{port}/metrics" in done.stdout
    assert "['market_ticks_stored_total 4.0']" in done.stdout


def test_without_a_directory_it_says_what_is_missing():
    done = _manage("--port", str(free_port()), directory=None)
    assert done.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_command_stays_quiet_on_a_taken_port(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = _manage("--port", str(taken.getsockname()[1]), directory=tmp_path)
    assert done.returncode != 0
    assert "cannot listen on 127.0.0.1" in done.stderr and "Traceback" not in done.stderr
