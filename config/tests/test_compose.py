"""The container setup: docker-compose.yml, the Dockerfile and .env.example agree with the code.

Pure file checks, no database and no Django settings (they pass with ``-p no:django`` too). The
compose CLI check runs when ``docker-compose`` (Debian's package) or ``docker compose`` is installed;
``config`` needs no Docker engine.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
NGINX_CONF = ROOT / "config" / "proxy" / "nginx.conf"
README = ROOT / "README.md"

APP_SERVICES = ("migrate", "web", "worker", "beat")
LONG_RUNNING = ("web", "worker", "beat")
# Variables that only docker-compose.yml reads (the settings never see them).
COMPOSE_ONLY_VARS = {"POSTGRES_PASSWORD"}
# Fixed in the compose file (0.0.0.0, every interface of the container), not passed from .env.
MAKE_RUN_ONLY_VARS = {"HOST"}

# `${VAR}`, `${VAR:-default}`, `${VAR:?message}` and `$VAR`, but not the `$$` escape.
_INTERPOLATION = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
# `NAME=value`, also commented out (`# NAME=value`): the example shows optional ones that way.
_ENV_LINE = re.compile(r"^(?:#\s?)?([A-Z][A-Z0-9_]*)=(.*)$")
# env("X"), env.int("X"), env.db_url("X") ... and os.environ / os.getenv reads of "X".
_ENV_READ = re.compile(
    r"""(?:\benv(?:\.[a-z_]+)?|os\.getenv|os\.environ\.(?:get|setdefault)|os\.environ\[)"""
    r"""\(?\s*["']([A-Z][A-Z0-9_]*)["']"""
)


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(compose_text) -> dict:
    # safe_load resolves anchors and `<<` merge keys, as compose does.
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    found = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _ENV_LINE.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def _command(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _config_source() -> str:
    return "\n".join(
        path.read_text()
        for path in sorted((ROOT / "config").rglob("*.py"))
        if "tests" not in path.relative_to(ROOT).parts
    )


def _dockerfile_cmd() -> list[str]:
    lines = DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
    cmds = [line.strip()[len("CMD") :].strip() for line in lines if line.strip().startswith("CMD ")]
    assert len(cmds) == 1, "the Dockerfile has exactly one CMD"
    cmd = json.loads(cmds[0])  # exec form
    if cmd[:2] == ["sh", "-c"]:
        cmd = shlex.split(cmd[2])
    return cmd[1:] if cmd[:1] == ["exec"] else cmd


def _daphne_args(argv: list[str]) -> dict:
    """Parse daphne's argv with daphne's own parser, so a misspelt flag fails here."""
    cli = pytest.importorskip("daphne.cli")
    assert argv[0] == "daphne"
    return vars(cli.CommandLineInterface().parser.parse_args(argv[1:]))


# --- docker-compose.yml ---------------------------------------------------------------------------


def test_services_are_exactly_the_stack(compose):
    assert "version" not in compose, "the compose spec has no `version:` key"
    assert set(compose["services"]) == {
        "timescaledb",
        "redis",
        "migrate",
        "web",
        "worker",
        "beat",
        "proxy",
    }


def test_timescaledb_image_is_pinned(services):
    image = services["timescaledb"]["image"]
    name, _, tag = image.partition(":")
    assert name == "timescale/timescaledb"
    # The release the TimescaleDB path was verified against (README, "Storage").
    assert tag == "2.28.3-pg16"


def test_database_and_redis_keep_data_in_named_volumes(compose, services):
    declared = set(compose.get("volumes") or {})
    for name in ("timescaledb", "redis"):
        mounts = services[name].get("volumes") or []
        named = {str(m).split(":", 1)[0] for m in mounts}
        assert named & declared, f"{name} mounts a declared named volume"


def test_redis_persists_with_append_only_file(services):
    assert "--appendonly yes" in " ".join(_command(services["redis"]))
    assert services["redis"]["image"].startswith("redis:")
    assert services["redis"]["image"] != "redis:latest"


def test_app_services_share_one_definition(services, compose):
    shared = compose["x-app"]
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == shared["build"]
        assert service["image"] == shared["image"]
        assert service["environment"] == shared["environment"]
    assert services["web"]["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"


def test_each_app_container_has_a_fresh_metrics_directory(compose, services):
    """prometheus-client's multiprocess directory: a tmpfs, empty whenever a container starts,
    never shared between containers (their process ids would collide)."""
    directory = compose["x-app"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    for name in APP_SERVICES:
        assert services[name]["tmpfs"] == [directory], name
        assert not any(
            str(v).split(":")[-1] == directory for v in services[name].get("volumes", [])
        )


def test_app_environment_points_at_the_compose_services(services):
    environment = services["web"]["environment"]
    assert "@timescaledb:5432/synthetic_market" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    # The secret has no default: compose stops with a clear message when .env lacks it.
    assert environment["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
    assert environment["DJANGO_SECURE_SSL_REDIRECT"] == "${DJANGO_SECURE_SSL_REDIRECT:-false}"
    # Behind the compose proxy (one, which replaces the client's X-Forwarded-*): fixed, since the
    # stack always has it.
    assert environment["DJANGO_BEHIND_PROXY"] == "true"
    assert environment["API_NUM_PROXIES"] == "1"


WEB_COMMAND = ["python", "-m", "config.procman", "web", "--proxy-headers"]


def test_web_runs_daphne_processes_on_one_socket_on_port_3000(services, tmp_path):
    """The web service is procman's web group: supervisord binds 0.0.0.0:3000 once and runs
    WEB_CONCURRENCY daphne processes on it, with unlimited WebSockets and the proxy's client
    addresses."""
    import configparser

    from config import procman

    web = services["web"]
    assert _command(web) == WEB_COMMAND
    environment = web["environment"]
    assert (environment["HOST"], environment["PORT"]) == ("0.0.0.0", "3000")
    assert "WEB_CONCURRENCY" in environment  # passed through from .env
    conf = configparser.RawConfigParser()
    conf.read_string(
        procman.build_config(
            host=environment["HOST"],
            port=int(environment["PORT"]),
            folder=tmp_path,
            web=2,
            only_web=True,
            proxy_headers=True,
        )
    )
    group = conf["fcgi-program:web"]
    assert group["socket"] == "tcp://0.0.0.0:3000" and group["numprocs"] == "2"
    argv = group["command"].split()
    args = _daphne_args(["daphne", *argv[1:]])
    assert args["file_descriptor"] == 0  # the socket supervisord bound
    assert args["websocket_timeout"] == -1
    assert args["application"] == "config.asgi:application"
    assert args["proxy_headers"] is True  # the client's address from the proxy's X-Forwarded-For
    # Messages up to 4 MiB reach the app, which answers an oversized one with its own error.
    assert args["websocket_max_message_size"] == args["websocket_max_frame_size"] == 4 * 1024 * 1024
    # Reached through the proxy only: nothing published.
    assert "ports" not in web
    assert [str(port) for port in web["expose"]] == ["3000"]


def test_proxy_alone_publishes_the_port_and_runs_the_repository_config(services):
    proxy = services["proxy"]
    name, _, tag = proxy["image"].partition(":")
    assert name == "nginx" and re.fullmatch(r"\d+\.\d+(\.\d+)?-alpine", tag), proxy["image"]
    assert proxy["volumes"] == ["./config/proxy/nginx.conf:/etc/nginx/nginx.conf:ro"]
    assert NGINX_CONF.is_file()
    assert proxy["ports"] == ["${PORT:-3000}:3000"]
    # The port the container publishes is the one nginx listens on, in front of web:3000.
    conf = NGINX_CONF.read_text()
    assert re.search(r"^\s*listen 3000;", conf, re.M) and re.search(r"server web:3000;", conf)
    assert proxy["depends_on"] == {"web": {"condition": "service_healthy"}}
    assert "http://127.0.0.1:3000/healthz" in " ".join(proxy["healthcheck"]["test"])
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}, f"only the proxy may publish a port: {sorted(published)}"


def test_worker_serves_both_queues_and_beat_schedules(services):
    argv = _command(services["worker"])
    # metrics_server serves the container's metrics while it runs celery (README "Metrics")
    assert argv[:3] == ["python", "manage.py", "metrics_server"]
    assert argv[argv.index("--port") + 1] == "9100" and argv[argv.index("--bind") + 1] == "0.0.0.0"
    assert [str(port) for port in services["worker"]["expose"]] == ["9100"]
    worker = argv[argv.index("--") + 1 :]
    assert worker[:4] == ["celery", "-A", "config", "worker"]
    queues = worker[worker.index("-Q") + 1].split(",")
    assert {"default", "generation"} <= set(queues)
    assert _command(services["beat"])[:4] == ["celery", "-A", "config", "beat"]


def test_only_the_migrate_service_migrates(services):
    assert _command(services["migrate"]) == ["python", "manage.py", "migrate", "--noinput"]
    for name, service in services.items():
        if name != "migrate":
            argv = _command(service) + [str(p) for p in service.get("entrypoint") or []]
            assert "migrate" not in argv, f"{name} must not run migrations"
    assert services["migrate"].get("restart", "no") == "no"


def test_long_running_services_wait_for_migrations_and_healthy_infrastructure(services):
    for name in LONG_RUNNING:
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends_on["timescaledb"] == {"condition": "service_healthy"}, name
        assert depends_on["redis"] == {"condition": "service_healthy"}, name
    assert services["migrate"]["depends_on"]["timescaledb"] == {"condition": "service_healthy"}


def test_long_running_services_restart(services):
    for name in ("timescaledb", "redis", "proxy", *LONG_RUNNING):
        assert services[name]["restart"] == "unless-stopped", name


def test_database_redis_and_web_have_healthchecks(services):
    assert "pg_isready" in services["timescaledb"]["healthcheck"]["test"]
    assert "redis-cli" in services["redis"]["healthcheck"]["test"]
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:3000/healthz" in web_check
    assert "curl" not in web_check and "wget" not in web_check, "slim images have neither"


# --- .env.example ---------------------------------------------------------------------------------


def test_every_compose_variable_is_in_env_example(compose_text, env_example):
    used = {a or b for a, b in _INTERPOLATION.findall(compose_text)}
    assert used, "the compose file reads .env"
    assert used <= set(env_example), f"missing from .env.example: {sorted(used - set(env_example))}"


def test_every_variable_the_code_reads_is_in_env_example(env_example):
    read = set(_ENV_READ.findall(_config_source()))
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"} <= read
    missing = read - set(env_example)
    assert not missing, f"add to .env.example (with default and comment): {sorted(missing)}"


def test_every_env_example_variable_is_read_by_the_code(env_example):
    source = _config_source()
    unread = {
        name
        for name in env_example
        if name not in COMPOSE_ONLY_VARS and not re.search(rf"[\"']{name}[\"']", source)
    }
    assert not unread, f"nothing in config/ reads {sorted(unread)}"


def test_design_variables_are_documented(env_example):
    design = (
        "DATABASE_URL REDIS_URL DJANGO_SETTINGS_MODULE DJANGO_SECRET_KEY DJANGO_ALLOWED_HOSTS PORT "
        "LOG_LEVEL TICK_RETENTION_DAYS GENERATE_INTERVAL_MS MARKET_TIME_SCALE MARKET_SPREAD_BPS "
        "MARKET_CORRELATION SECTOR_CORRELATION MAX_CATCHUP_SECONDS WS_REPLAY_SECONDS "
        "WS_ALLOWED_ORIGINS API_KEYS_REQUIRED CORS_ALLOWED_ORIGINS"
    ).split()
    assert set(design) <= set(env_example)
    assert env_example["PORT"] == "3000"
    assert env_example["TICK_RETENTION_DAYS"] == "30"


def test_every_variable_has_a_comment():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        match = _ENV_LINE.match(line.strip())
        if match:
            above = lines[i - 1].strip() if i else ""
            assert above.startswith("#") and not _ENV_LINE.match(above), (
                f"{match.group(1)} needs a one-line comment above it"
            )


def test_env_example_holds_no_real_secret(env_example):
    secret = env_example["DJANGO_SECRET_KEY"]
    assert secret == "" or secret.startswith("change-me"), "only an obviously fake placeholder"
    assert not re.search(r"^DJANGO_SECRET_KEY=.+", ENV_EXAMPLE.read_text(), re.M), (
        "a set-but-placeholder secret would override the local settings' own"
    )


def _readme_configuration_names() -> set[str]:
    """The variables named in the first column of the README's configuration table; a row's
    ``…_SUFFIX`` stands for its first name with the last part replaced."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("\n## Configuration\n") :]
    table = table[: table.index("\n## ", 1)]
    names = set()
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        found = re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)
        names.update(found)
        if found:
            stem = found[0].rsplit("_", 1)[0]
            names.update(stem + suffix for suffix in re.findall(r"`…(_[A-Z0-9_]+)`", cell))
    return names


def test_every_env_example_variable_is_in_the_readme_table(env_example):
    missing = set(env_example) - _readme_configuration_names()
    assert not missing, f"add to the README's configuration table: {sorted(missing)}"


def test_settings_variables_reach_the_app_containers(services, env_example):
    """What .env sets must reach the containers: each variable is listed in x-app's environment."""
    environment = services["web"]["environment"]
    missing = set(env_example) - COMPOSE_ONLY_VARS - MAKE_RUN_ONLY_VARS - set(environment)
    assert not missing, f"add to x-app environment in docker-compose.yml: {sorted(missing)}"


# --- Dockerfile -----------------------------------------------------------------------------------


def test_dockerfile_builds_a_pinned_non_root_image():
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "pip install --no-cache-dir -r requirements.txt" in text
    assert "collectstatic --noinput" in text
    assert re.search(r"^EXPOSE\s+3000\b", text, re.M)
    env_block = " ".join(re.findall(r"^ENV\s+(.*(?:\\\n.*)*)", text, re.M))
    assert "DJANGO_SECRET_KEY" not in env_block, "the build-time secret must not be baked in"


def test_dockerfile_cmd_and_compose_web_run_the_same_web_processes(services):
    assert _dockerfile_cmd() == _command(services["web"]) == WEB_COMMAND
    lines = DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
    env = " ".join(line for line in lines if line.startswith("ENV "))
    assert "HOST=0.0.0.0" in env.split() and "PORT=3000" in env.split()


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv"} <= ignored


# --- The compose CLI --------------------------------------------------------------------------------


def _compose_clis() -> list[list[str]]:
    clis = []
    if shutil.which("docker-compose"):
        clis.append(["docker-compose"])
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=60
        )
        if probe.returncode == 0:
            clis.append(["docker", "compose"])
    return clis


_CLIS = _compose_clis()
_NO_CLI = pytest.mark.skipif(
    not _CLIS,
    reason="no compose CLI: `apt-get install -y docker-compose` (Debian) or the docker compose plugin",
)


def _run_compose_config(cli: list[str], secret: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "COMPOSE_FILE")}
    if secret is not None:
        env["DJANGO_SECRET_KEY"] = secret
    # .env.example as the env file: the documented defaults must make a valid file too.
    command = [*cli, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE), "config", "-q"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@_NO_CLI
@pytest.mark.parametrize("cli", _CLIS, ids=" ".join)
def test_compose_cli_accepts_the_file(cli):
    result = _run_compose_config(cli, secret="compose-config-test-only")
    assert result.returncode == 0, result.stderr


@_NO_CLI
@pytest.mark.parametrize("cli", _CLIS, ids=" ".join)
def test_compose_cli_refuses_to_start_without_a_secret(cli):
    result = _run_compose_config(cli, secret=None)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr + result.stdout
