"""The settings modules, run in fresh processes the way the service starts them.

Each run happens in a scratch copy of the project whose ``config/`` is a real copy (``BASE_DIR``
follows the settings file) and whose apps are symlinks, so a developer's ``.env`` (which the
settings read) cannot change what is tested, and with every variable the settings read removed
from the environment, so the defaults are what is tested.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_DIR = ROOT / "config" / "settings"
APPS = ("ticks", "api", "streaming", "marketsite", "templates")

# The environment variables users rely on (README, "Configuration"): each must be read by the code.
PINNED_VARIABLES = (
    "DATABASE_URL REDIS_URL DJANGO_SETTINGS_MODULE DJANGO_SECRET_KEY DJANGO_ALLOWED_HOSTS PORT "
    "LOG_LEVEL TICK_RETENTION_DAYS GENERATE_INTERVAL_MS MARKET_TIME_SCALE MARKET_SPREAD_BPS "
    "MARKET_CORRELATION SECTOR_CORRELATION MAX_CATCHUP_SECONDS WS_REPLAY_SECONDS "
    "WS_ALLOWED_ORIGINS API_KEYS_REQUIRED CORS_ALLOWED_ORIGINS"
).split()

# env("X"), env.int("X"), env.db_url("X") ... and os.environ reads of "X".
_ENV_READ = re.compile(
    r"""(?:\benv(?:\.[a-z_]+)?|os\.getenv|os\.environ\.(?:get|setdefault)|os\.environ\[)"""
    r"""\(?\s*["']([A-Z][A-Z0-9_]*)["']"""
)

# Prints the settings a test looks at, as JSON.
DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "SETTINGS_MODULE": s.SETTINGS_MODULE,
    "DEBUG": s.DEBUG,
    "SECRET_KEY": s.SECRET_KEY,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "PORT": s.PORT,
    "DATABASE": {k: s.DATABASES["default"][k] for k in ("ENGINE", "NAME", "HOST", "PORT", "USER")},
    "DATABASE_HOST_OPTION": s.DATABASES["default"]["OPTIONS"].get("host"),
    "REDIS_URL": s.REDIS_URL,
    "CACHE_LOCATION": s.CACHES["default"]["LOCATION"],
    "CELERY_BROKER_URL": s.CELERY_BROKER_URL,
    "CHANNEL_HOSTS": s.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"],
    "LOG_LEVEL": s.LOG_LEVEL,
    "LOG_ROOT": s.LOGGING["root"],
    "LOG_HANDLER_FORMATTER": s.LOGGING["handlers"]["console"]["formatter"],
    "TICK_RETENTION_DAYS": s.TICK_RETENTION_DAYS,
    "GENERATE_INTERVAL_MS": s.GENERATE_INTERVAL_MS,
    "MARKET_TIME_SCALE": s.MARKET_TIME_SCALE,
    "MARKET_SPREAD_BPS": s.MARKET_SPREAD_BPS,
    "MARKET_CORRELATION": s.MARKET_CORRELATION,
    "SECTOR_CORRELATION": s.SECTOR_CORRELATION,
    "MAX_CATCHUP_SECONDS": s.MAX_CATCHUP_SECONDS,
    "WS_REPLAY_SECONDS": s.WS_REPLAY_SECONDS,
    "WS_ALLOWED_ORIGINS": s.WS_ALLOWED_ORIGINS,
    "API_KEYS_REQUIRED": s.API_KEYS_REQUIRED,
    "CORS_ALLOWED_ORIGINS": s.CORS_ALLOWED_ORIGINS,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SECURE_REDIRECT_EXEMPT": s.SECURE_REDIRECT_EXEMPT,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "METRICS_ENABLED": s.METRICS_ENABLED,
    "METRICS_ALLOWED_IPS": s.METRICS_ALLOWED_IPS,
    "METRICS_TOKEN": s.METRICS_TOKEN,
    "PROMETHEUS_MULTIPROC_DIR": s.PROMETHEUS_MULTIPROC_DIR,
}))
"""


def _settings_source() -> str:
    return "\n".join(p.read_text() for p in sorted(SETTINGS_DIR.glob("*.py")))


def _entry_points_source() -> str:
    files = [ROOT / "manage.py", *(ROOT / "config").glob("[!_]*.py"), ROOT / "config/__init__.py"]
    return "\n".join(p.read_text() for p in files)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A scratch copy of the project without any ``.env``."""
    copy = tmp_path_factory.mktemp("project")
    shutil.copytree(
        ROOT / "config", copy / "config", ignore=shutil.ignore_patterns("__pycache__", "tests")
    )
    # Copied, not linked: Python resolves a symlinked script's directory back to the repository.
    shutil.copy2(ROOT / "manage.py", copy / "manage.py")
    for name in APPS:
        if (ROOT / name).exists():
            (copy / name).symlink_to(ROOT / name, target_is_directory=True)
    assert not (copy / ".env").exists()
    return copy


def _clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without anything the settings read, plus ``variables``."""
    read = set(_ENV_READ.findall(_settings_source() + _entry_points_source()))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in read and not k.startswith("DJANGO_") and k != "PYTHONPATH"
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(variables)
    return env


def _run(project: Path, args: list[str], **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=_clean_env(**variables),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _dump(project: Path, module: str, **variables: str) -> dict:
    result = _run(project, ["-c", DUMP], DJANGO_SETTINGS_MODULE=module, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _random_secret() -> str:
    secret = secrets.token_urlsafe(64)
    assert len(secret) >= 50
    return secret


# --- Production ---------------------------------------------------------------------------------


def test_production_passes_the_deploy_checks(project):
    result = _run(
        project,
        [
            "manage.py",
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            "--settings=config.settings.production",
        ],
        DJANGO_SECRET_KEY=_random_secret(),
        DJANGO_ALLOWED_HOSTS="example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_with_a_weak_secret_fails_the_deploy_checks(project):
    """The positive test above would also pass if nothing were checked: show that it can fail."""
    result = _run(
        project,
        [
            "manage.py",
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            "--settings=config.settings.production",
        ],
        DJANGO_SECRET_KEY="short",
        DJANGO_ALLOWED_HOSTS="example.com",
    )
    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret(project):
    result = _run(
        project,
        ["manage.py", "check", "--settings=config.settings.production"],
        DJANGO_ALLOWED_HOSTS="example.com",
    )
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("secret", ["", "   "], ids=["empty", "blank"])
def test_production_refuses_to_start_with_an_empty_secret(project, secret):
    result = _run(
        project,
        ["manage.py", "check", "--settings=config.settings.production"],
        DJANGO_SECRET_KEY=secret,
        DJANGO_ALLOWED_HOSTS="example.com",
    )
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_defaults(project):
    secret = _random_secret()
    dumped = _dump(
        project,
        "config.settings.production",
        DJANGO_SECRET_KEY=secret,
        DJANGO_ALLOWED_HOSTS="example.com",
    )
    assert dumped["SECRET_KEY"] == secret
    assert dumped["DEBUG"] is False
    assert dumped["ALLOWED_HOSTS"] == ["example.com"]
    assert dumped["LOG_HANDLER_FORMATTER"] == "json"
    assert dumped["LOG_ROOT"] == {"handlers": ["console"], "level": "INFO"}
    assert dumped["SECURE_SSL_REDIRECT"] is True
    # Probes and Prometheus scrape over plain HTTP inside the network.
    assert dumped["SECURE_REDIRECT_EXEMPT"] == [r"^healthz$", r"^readyz$", r"^metrics$"]
    assert dumped["SESSION_COOKIE_SECURE"] is True
    assert dumped["CSRF_COOKIE_SECURE"] is True
    # /metrics: on, loopback only, no token, each process its own (no directory).
    assert dumped["METRICS_ENABLED"] is True
    assert dumped["METRICS_ALLOWED_IPS"] == ["127.0.0.1/32", "::1/128"]
    assert dumped["METRICS_TOKEN"] == ""
    assert dumped["PROMETHEUS_MULTIPROC_DIR"] == ""


def test_metrics_settings_are_read_and_checked(project, tmp_path):
    production = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": _random_secret(),
    }
    dumped = _dump(
        project,
        "config.settings.production",
        DJANGO_SECRET_KEY=production["DJANGO_SECRET_KEY"],
        METRICS_ALLOWED_IPS="10.0.0.0/8, 192.168.1.7",
        METRICS_TOKEN=" scrape-key ",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        METRICS_ENABLED="false",
    )
    assert dumped["METRICS_ALLOWED_IPS"] == ["10.0.0.0/8", "192.168.1.7"]
    assert dumped["METRICS_TOKEN"] == "scrape-key"
    assert dumped["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)
    assert dumped["METRICS_ENABLED"] is False
    bad_network = _run(project, ["-c", DUMP], **production, METRICS_ALLOWED_IPS="10.0.0.0/33")
    assert bad_network.returncode != 0
    assert "ImproperlyConfigured: METRICS_ALLOWED_IPS: '10.0.0.0/33'" in bad_network.stderr
    missing = _run(
        project, ["-c", DUMP], **production, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "x")
    )
    assert missing.returncode != 0
    assert "is not a directory: create it" in missing.stderr


# Answers of the production settings through Django's test client (no database or Redis needed).
HEADERS_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client()
out = {"limits": [settings.DATA_UPLOAD_MAX_MEMORY_SIZE, settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
                  settings.FILE_UPLOAD_MAX_MEMORY_SIZE]}
for path in ("/healthz", "/admin/login/"):
    response = client.get(path, secure=True)
    out[path] = [response.status_code, response.headers.get("Content-Security-Policy"),
                 response.headers.get("Strict-Transport-Security")]
print(json.dumps(out))
"""


def test_production_sends_a_content_security_policy_without_unsafe_inline(project):
    result = _run(
        project,
        ["-c", HEADERS_PROBE],
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=_random_secret(),
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for path in ("/healthz", "/admin/login/"):
        status, csp, hsts = out[path]
        assert status == 200 and hsts, (path, out[path])
        policy = {
            name: values for name, *values in (p.split() for p in csp.split(";") if p.strip())
        }
        assert policy["default-src"] == ["'self'"], csp
        assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"], csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
    # Django's own request-size limits (the proxy in front has the same 1 MiB).
    assert out["limits"] == [1024 * 1024, 1000, 1024 * 1024]


def test_production_log_format_and_redirect_are_switchable(project):
    dumped = _dump(
        project,
        "config.settings.production",
        DJANGO_SECRET_KEY=_random_secret(),
        LOG_FORMAT="text",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_DEBUG="true",  # ignored: production never runs with debug on
    )
    assert dumped["LOG_HANDLER_FORMATTER"] == "text"
    assert dumped["SECURE_SSL_REDIRECT"] is False
    assert dumped["DEBUG"] is False


def test_unknown_log_format_stops_start_up(project):
    result = _run(
        project,
        ["-c", DUMP],
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=_random_secret(),
        LOG_FORMAT="xml",
    )
    assert result.returncode != 0
    assert "ValueError: LOG_FORMAT must be 'json' or 'text', not 'xml'" in result.stderr


# --- Local and test -------------------------------------------------------------------------------


def test_local_defaults(project):
    dumped = _dump(project, "config.settings.local")
    assert dumped["DEBUG"] is True
    assert dumped["SECRET_KEY"]  # a placeholder, no environment needed
    assert dumped["LOG_HANDLER_FORMATTER"] == "text"
    assert dumped["SECURE_SSL_REDIRECT"] is False
    # No DATABASE_URL/REDIS_URL and no embedded servers running: addresses that fail at once and
    # name the reason (Unix sockets that do not exist), never some server on a default port.
    assert dumped["DATABASE"] == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "synthetic_market",
        "HOST": "",
        "PORT": "",
        "USER": "postgres",
    }
    assert dumped["DATABASE_HOST_OPTION"] == f"{project}/.data/embedded-postgres-not-running"
    assert dumped["REDIS_URL"] == f"unix://{project}/.data/embedded-valkey-not-running.sock"
    assert dumped["PORT"] == 3000
    assert dumped["TICK_RETENTION_DAYS"] == 30
    assert dumped["METRICS_ALLOWED_IPS"] == ["0.0.0.0/0", "::/0"]  # open in development


def _write_services(folder: Path, *, pid: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "services.json").write_text(
        json.dumps(
            {
                "pid": pid,
                "database_url": "postgres://postgres@127.0.0.1:15999/synthetic_market",
                "redis_url": "redis://127.0.0.1:16999/0",
            }
        )
    )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def embedded_running(project):
    """services.json as a running supervisor leaves it (this process stands in for it)."""
    _write_services(project / ".data", pid=os.getpid())
    yield
    shutil.rmtree(project / ".data")


def test_without_urls_settings_use_the_running_embedded_servers(project, embedded_running):
    dumped = _dump(project, "config.settings.local")
    embedded_redis = "redis://127.0.0.1:16999/0"
    assert dumped["DATABASE"] == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "synthetic_market",
        "HOST": "127.0.0.1",
        "PORT": 15999,
        "USER": "postgres",
    }
    assert dumped["DATABASE_HOST_OPTION"] is None
    assert [dumped[k] for k in ("REDIS_URL", "CACHE_LOCATION", "CELERY_BROKER_URL")] == [
        embedded_redis
    ] * 3
    assert dumped["CHANNEL_HOSTS"] == [embedded_redis]


def test_urls_win_over_the_embedded_servers(project, embedded_running):
    dumped = _dump(
        project,
        "config.settings.local",
        DATABASE_URL="postgres://u@db.example:6543/elsewhere",
        REDIS_URL="redis://cache.example:6380/2",
    )
    assert (dumped["DATABASE"]["HOST"], dumped["REDIS_URL"]) == (
        "db.example",
        "redis://cache.example:6380/2",
    )


def test_embedded_servers_of_a_dead_supervisor_are_not_used(project, tmp_path):
    folder = tmp_path / "data"
    _write_services(folder, pid=_dead_pid())
    dumped = _dump(project, "config.settings.local", EMBEDDED_DATA_DIR=str(folder))
    assert dumped["DATABASE_HOST_OPTION"] == f"{folder}/embedded-postgres-not-running"
    assert dumped["REDIS_URL"] == f"unix://{folder}/embedded-valkey-not-running.sock"


def test_embedded_data_dir_is_read_from_the_environment(project, tmp_path):
    _write_services(tmp_path / "elsewhere", pid=os.getpid())
    dumped = _dump(project, "config.settings.local", EMBEDDED_DATA_DIR=str(tmp_path / "elsewhere"))
    assert dumped["DATABASE"]["PORT"] == 15999


def test_local_debug_can_be_switched_off(project):
    assert _dump(project, "config.settings.local", DJANGO_DEBUG="false")["DEBUG"] is False


def test_manage_py_defaults_to_local_settings(project):
    result = _run(project, ["manage.py", "diffsettings", "--output", "unified"])
    assert result.returncode == 0, result.stderr
    assert "+ DEBUG = True" in result.stdout


def test_test_settings_keep_away_from_the_running_stack(settings):
    # Run under pytest: the test settings are the live ones here.
    assert settings.SETTINGS_MODULE == "config.settings.test"
    assert settings.DEBUG is False
    assert settings.MARKET_REDIS_PREFIX != "market"
    assert settings.CACHES["default"]["KEY_PREFIX"] == settings.MARKET_REDIS_PREFIX
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] != "asgi"
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


# --- The environment list of the design -----------------------------------------------------------


@pytest.mark.parametrize("name", PINNED_VARIABLES)
def test_design_variable_is_read_by_the_code(name):
    source = _settings_source()
    if name == "DJANGO_SETTINGS_MODULE":
        # Read by the entry points, which pick the settings module.
        source = _entry_points_source()
    assert name in _ENV_READ.findall(source), f"nothing reads {name} from the environment"


def test_design_variables_reach_the_settings(project):
    """Set every variable of the design to an unusual value: each one shows up in the settings."""
    secret = _random_secret()
    dumped = _dump(
        project,
        "config.settings.local",
        DATABASE_URL="postgres://marketuser@db.internal:6543/othermarket",
        REDIS_URL="redis://cache.internal:6380/3",
        DJANGO_SECRET_KEY=secret,
        DJANGO_ALLOWED_HOSTS="a.example,b.example",
        PORT="8123",
        LOG_LEVEL="warning",
        TICK_RETENTION_DAYS="7",
        GENERATE_INTERVAL_MS="250",
        MARKET_TIME_SCALE="60",
        MARKET_SPREAD_BPS="12.5",
        MARKET_CORRELATION="0.25",
        SECTOR_CORRELATION="0.35",
        MAX_CATCHUP_SECONDS="120",
        WS_REPLAY_SECONDS="90",
        WS_ALLOWED_ORIGINS="https://charts.example,https://bots.example",
        API_KEYS_REQUIRED="true",
        CORS_ALLOWED_ORIGINS="https://ui.example",
    )
    redis_url = "redis://cache.internal:6380/3"
    others = ("SECURE_REDIRECT_EXEMPT", "METRICS_", "PROMETHEUS_")  # not design variables
    assert {k: v for k, v in dumped.items() if not k.startswith(others)} == {
        "SETTINGS_MODULE": "config.settings.local",
        "DEBUG": True,
        "SECRET_KEY": secret,
        "ALLOWED_HOSTS": ["a.example", "b.example"],
        "PORT": 8123,
        "DATABASE": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "othermarket",
            "HOST": "db.internal",
            "PORT": 6543,
            "USER": "marketuser",
        },
        "DATABASE_HOST_OPTION": None,
        "REDIS_URL": redis_url,
        "CACHE_LOCATION": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CHANNEL_HOSTS": [redis_url],
        "LOG_LEVEL": "WARNING",
        "LOG_ROOT": {"handlers": ["console"], "level": "WARNING"},
        "LOG_HANDLER_FORMATTER": "text",
        "TICK_RETENTION_DAYS": 7,
        "GENERATE_INTERVAL_MS": 250,
        "MARKET_TIME_SCALE": 60.0,
        "MARKET_SPREAD_BPS": 12.5,
        "MARKET_CORRELATION": 0.25,
        "SECTOR_CORRELATION": 0.35,
        "MAX_CATCHUP_SECONDS": 120,
        "WS_REPLAY_SECONDS": 90,
        "WS_ALLOWED_ORIGINS": ["https://charts.example", "https://bots.example"],
        "API_KEYS_REQUIRED": True,
        "CORS_ALLOWED_ORIGINS": ["https://ui.example"],
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
    }


# --- HSTS and the proxy header --------------------------------------------------------------------

SECURITY_DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps([s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD,
                  s.SECURE_PROXY_SSL_HEADER]))
"""


def _security(project, **variables):
    result = _run(
        project,
        ["-c", SECURITY_DUMP],
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=_random_secret(),
        **variables,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_hsts_preload_comes_with_a_year(project):
    assert _security(project) == [31536000, True, True, None]


def test_x_forwarded_proto_is_trusted_only_behind_a_declared_proxy(project):
    assert _security(project)[3] is None
    assert _security(project, DJANGO_BEHIND_PROXY="true")[3] == ["HTTP_X_FORWARDED_PROTO", "https"]
