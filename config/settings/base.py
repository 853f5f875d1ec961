"""Settings shared by every environment, read from environment variables (and a ``.env`` file).

Every variable is listed, with its default, in ``.env.example`` and the README.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env beside manage.py is optional; real environment variables win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------------
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
PORT = env.int("PORT", default=3000)

INSTALLED_APPS = [
    "daphne",  # must precede staticfiles so `runserver` is the ASGI one
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "channels",
    "ticks",
    "api",
    "streaming",
    "marketsite",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "marketsite.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/synthetic_market"
    ),
}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"].setdefault("OPTIONS", {})
# Fail fast when the database is down: the pipeline buffers and retries instead of hanging.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker, channel layer, live state --------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Redis pub/sub ignores database numbers, so parallel stacks (tests, benchmarks) need their own
# channel-layer prefix as well as their own db number.
CHANNEL_LAYER_PREFIX = env("CHANNEL_LAYER_PREFIX", default="asgi")
# Prefix of every key the market keeps in Redis (state, buffers, quotes, replay streams).
MARKET_REDIS_PREFIX = env("MARKET_REDIS_PREFIX", default="market")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": MARKET_REDIS_PREFIX,
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_LAYER_PREFIX},
    }
}

CELERY_BROKER_URL = REDIS_URL
# Queues live under the market prefix too, so stacks sharing a Redis never take each other's tasks.
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{MARKET_REDIS_PREFIX}:celery:"}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Tasks go to "default" unless routed; generation gets its own queue and worker (Procfile), so
# a flush stuck on a dead database can never delay or expire a 100 ms generation task.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"ticks.generate": {"queue": "generation"}}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- Market ------------------------------------------------------------------------------------
TICK_RETENTION_DAYS = env.int("TICK_RETENTION_DAYS", default=30)
GENERATE_INTERVAL_MS = env.int("GENERATE_INTERVAL_MS", default=100)
MARKET_TIME_SCALE = env.float("MARKET_TIME_SCALE", default=1.0)
# Quoted spread in basis points at 20% annual volatility; it widens in proportion to volatility.
MARKET_SPREAD_BPS = env.float("MARKET_SPREAD_BPS", default=5.0)
MARKET_CORRELATION = env.float("MARKET_CORRELATION", default=0.1)
SECTOR_CORRELATION = env.float("SECTOR_CORRELATION", default=0.2)
MAX_CATCHUP_SECONDS = env.int("MAX_CATCHUP_SECONDS", default=3600)
# Seed of the market and sector factors (each ticker has its own seed for the rest).
MARKET_SEED = env.int("MARKET_SEED", default=20240115)
# Partitions of the ticks table created ahead of today (plain PostgreSQL only).
TICK_PARTITIONS_AHEAD_DAYS = env.int("TICK_PARTITIONS_AHEAD_DAYS", default=3)

# --- Live pipeline schedule (each entry expires within its interval: stale runs are dropped) ---
FLUSH_INTERVAL_S = env.float("FLUSH_INTERVAL_S", default=1.0)
ROLLUP_INTERVAL_S = env.float("ROLLUP_INTERVAL_S", default=2.0)
CELERY_BEAT_SCHEDULE = {
    "generate-ticks": {
        "task": "ticks.generate",
        "schedule": GENERATE_INTERVAL_MS / 1000,
        "options": {"expires": GENERATE_INTERVAL_MS / 1000, "queue": "generation"},
    },
    "flush-ticks": {
        "task": "ticks.flush",
        "schedule": FLUSH_INTERVAL_S,
        "options": {"expires": FLUSH_INTERVAL_S},
    },
    "refresh-bars": {
        "task": "ticks.refresh_bars",
        "schedule": ROLLUP_INTERVAL_S,
        "options": {"expires": ROLLUP_INTERVAL_S},
    },
    "maintain-storage": {
        "task": "ticks.maintain",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}

# --- API and streaming --------------------------------------------------------------------------
WS_REPLAY_SECONDS = env.int("WS_REPLAY_SECONDS", default=300)
WS_ALLOWED_ORIGINS = env.list("WS_ALLOWED_ORIGINS", default=[])
API_KEYS_REQUIRED = env.bool("API_KEYS_REQUIRED", default=False)
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Internationalization -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Health checks ------------------------------------------------------------------------------
# Plain-HTTP probes from a load balancer or orchestrator must not be redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- Logging ------------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env("LOG_FORMAT", default="text")  # "json" in production

from config.logging import build_logging  # noqa: E402

LOGGING = build_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
