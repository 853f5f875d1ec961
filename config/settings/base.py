"""Settings shared by every environment, read from environment variables (and a ``.env`` file).

Every variable is listed, with its default, in ``.env.example`` and the README.
"""

from datetime import timedelta
from pathlib import Path

import environ
from corsheaders.defaults import default_headers as corsheaders_default_headers
from csp.constants import NONE, SELF

from config import services

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env beside manage.py is optional; real environment variables win over it.
services.read_dotenv(BASE_DIR / ".env")

# --- Core -------------------------------------------------------------------------------------
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
PORT = env.int("PORT", default=3000)
# Error pages and reports: URL passwords (DATABASE_URL, REDIS_URL) removed from the settings,
# request metadata, frame variables and exception messages, besides Django's own hiding.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.redaction.ExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "config.redaction.ExceptionReporter"

INSTALLED_APPS = [
    "daphne",  # must precede staticfiles so `runserver` is the ASGI one
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served locally (no CDN)
    "corsheaders",
    "channels",
    "axes",  # admin login lockout (see "Admin login" below)
    "csp",  # Content-Security-Policy header (see "Content Security Policy" below)
    "ticks",
    "api",
    "streaming",
    "marketsite",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header on every answer (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # CORS headers (REST API only) before anything that can answer on its own.
    "corsheaders.middleware.CorsMiddleware",
    # Static files (the dashboard's JS and CSS, the admin's) straight from daphne: WhiteNoise.
    "marketsite.static_serving.StaticFilesMiddleware",
    "marketsite.middleware.RequestIdMiddleware",
    # A NUL byte in a path, query, form or cookie is a 400 before PostgreSQL sees it.
    "marketsite.middleware.NulByteMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Answers a locked-out login attempt (django-axes); after the authentication middleware.
    "axes.middleware.AxesMiddleware",
    # Last: makes the chain run in one thread under daphne (see its docstring).
    "marketsite.middleware.SyncChainMiddleware",
]

# The middleware the hot reads (config/hot_reads.py) run around each of their plain answers: those
# that act on every request (its id, its access line). What the others add to a plain answer of
# a route is the same every time: the hot reads take it from the route's first answer, which
# goes through the whole chain. A middleware that must see every request goes in both lists.
HOT_READS_MIDDLEWARE = ["marketsite.middleware.RequestIdMiddleware"]

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
# DATABASE_URL and REDIS_URL when set; otherwise the embedded servers that `make run` (or the test
# session) runs, found in EMBEDDED_DATA_DIR/services.json. Settings never start a server.
# Lower case, so it is not a setting: it holds the URLs with their passwords.
_services = services.resolve(
    database_url=env("DATABASE_URL", default=""),
    redis_url=env("REDIS_URL", default=""),
    folder=services.data_dir(env("EMBEDDED_DATA_DIR", default="")),
)
DATABASES = {"default": env.db_url_config(_services.database_url)}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"].setdefault("OPTIONS", {})
# Fail fast when the database is down: the pipeline buffers and retries instead of hanging.
# connect_timeout bounds opening a connection (psycopg enforces it client-side, whole handshake);
# statement_timeout makes the server cancel a statement that runs (or waits for a lock) too long.
# A hung server answers neither: the paths that must answer then read through ticks.deadline.
DATABASE_CONNECT_TIMEOUT_S = env.int("DATABASE_CONNECT_TIMEOUT_S", default=3)
DATABASE_STATEMENT_TIMEOUT_MS = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=60_000)
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT_S)
if DATABASE_STATEMENT_TIMEOUT_MS > 0:
    DATABASES["default"]["OPTIONS"].setdefault(
        "options", f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT_MS}"
    )
# Connections come from a pool (psycopg_pool): under ASGI every request runs in a thread of its
# own, so persistent connections (CONN_MAX_AGE) are never reused and each request would pay a
# new PostgreSQL connection (~10 ms here). Connections open lazily; 0 turns the pool off.
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=8)
if DATABASE_POOL_MAX_SIZE > 0:
    DATABASES["default"]["OPTIONS"].setdefault(
        "pool",
        {
            "min_size": 1,
            "max_size": DATABASE_POOL_MAX_SIZE,
            "timeout": DATABASE_CONNECT_TIMEOUT_S,  # waiting for a free connection
        },
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker, channel layer, live state --------------------------------------
REDIS_URL = _services.redis_url
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
# Tasks go to "default" unless routed; generation gets its own queue and worker (config/procman.py),
# so a flush stuck on a dead database can never delay or expire a 100 ms generation task.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"ticks.generate": {"queue": "generation"}}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- Market ------------------------------------------------------------------------------------
# Market time = wall time + this offset, read by every process (ticks/market_time.py): tests and
# demos move the market's clock (to a session's open, or a past fortnight) without waiting.
# Read as text: a value that is not a finite number is kept as it is, for the system check
# (ticks/checks.py) to stop `manage.py check`, `migrate` and so `make run` with the reason.
MARKET_CLOCK_OFFSET_SECONDS = env.str("MARKET_CLOCK_OFFSET_SECONDS", default="0").strip() or "0"
try:
    MARKET_CLOCK_OFFSET_SECONDS = float(MARKET_CLOCK_OFFSET_SECONDS)
except ValueError:
    pass
# The default trading calendar of new tickers and of the Alpaca clock/calendar: "24/7" (always
# open) or an exchange code of the exchange-calendars package (XNYS, XNAS, XLON, XTKS, ...).
MARKET_CALENDAR = env("MARKET_CALENDAR", default="24/7")
TICK_RETENTION_DAYS = env.int("TICK_RETENTION_DAYS", default=30)
# On a first start (no tick stored yet) `make run` fills this many days of history behind the live
# market, in the background (ticks/first_start.py); 0 turns it off.
FIRST_START_HISTORY_DAYS = env.float("FIRST_START_HISTORY_DAYS", default=1.0)
GENERATE_INTERVAL_MS = env.int("GENERATE_INTERVAL_MS", default=100)
MARKET_TIME_SCALE = env.float("MARKET_TIME_SCALE", default=1.0)
# Quoted spread in basis points at 20% annual volatility; it widens in proportion to volatility.
MARKET_SPREAD_BPS = env.float("MARKET_SPREAD_BPS", default=5.0)
MARKET_CORRELATION = env.float("MARKET_CORRELATION", default=0.1)
SECTOR_CORRELATION = env.float("SECTOR_CORRELATION", default=0.2)
MAX_CATCHUP_SECONDS = env.int("MAX_CATCHUP_SECONDS", default=3600)
# Seed of the market and sector factors (each ticker has its own seed for the rest).
MARKET_SEED = env.int("MARKET_SEED", default=20240115)
# Trading sessions (calendar tickers): the share of a session's variance in its opening gap.
MARKET_OVERNIGHT_SHARE = env.float("MARKET_OVERNIGHT_SHARE", default=0.2)
# A ticker whose market is open and whose newest tick is older than this many seconds (plus its
# tick interval) is stale: quotes say so in meta, /readyz fails its generation check.
GENERATION_STALE_SECONDS = env.float("GENERATION_STALE_SECONDS", default=10.0)
# The generator re-reads the active tickers' configs this often even without a config version
# bump, in a background thread (the generation cycle never waits on the database).
GENERATION_CONFIG_RELOAD_S = env.float("GENERATION_CONFIG_RELOAD_S", default=60.0)
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

# Sharded generation: the active tickers split into this many shards (ticker id mod N), one
# generation task per shard every beat, taken by any generator worker (ticks/shards.py). 1: one
# task for every ticker.
GENERATION_SHARDS = env.int("GENERATION_SHARDS", default=1)
if GENERATION_SHARDS < 1:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"GENERATION_SHARDS must be at least 1, not {GENERATION_SHARDS}.")
if GENERATION_SHARDS > 1:
    _generate = CELERY_BEAT_SCHEDULE.pop("generate-ticks")
    for _shard in range(GENERATION_SHARDS):
        CELERY_BEAT_SCHEDULE[f"generate-ticks-{_shard}"] = {
            **_generate,
            "kwargs": {"shard": _shard, "shards": GENERATION_SHARDS},
        }

# --- API and streaming --------------------------------------------------------------------------
WS_REPLAY_SECONDS = env.int("WS_REPLAY_SECONDS", default=300)
WS_ALLOWED_ORIGINS = env.list("WS_ALLOWED_ORIGINS", default=[])
# Per-connection limits of /ws. A subscribe naming every ticker of a large market fits in 8 KiB.
WS_MAX_MESSAGE_BYTES = env.int("WS_MAX_MESSAGE_BYTES", default=8192)
WS_MAX_SUBSCRIPTIONS = env.int("WS_MAX_SUBSCRIPTIONS", default=100)  # tickers; "*" counts as one
WS_MAX_MESSAGES_PER_SECOND = env.float("WS_MAX_MESSAGES_PER_SECOND", default=20.0)
# Frames the app may queue for one client (daphne's own buffer is unbounded); 2000 is 40 s of
# all five tickers tick by tick, so only a stalled connection reaches it (then: slow_client).
WS_SEND_QUEUE_LIMIT = env.int("WS_SEND_QUEUE_LIMIT", default=2000)
API_KEYS_REQUIRED = env.bool("API_KEYS_REQUIRED", default=False)
# Streaming connections (/ws, /v2/{feed} and /stocks together) one API key may hold open, counted
# across every server process; 0: no limit. Connections without a key are not counted.
WS_MAX_CONNECTIONS_PER_KEY = env.int("WS_MAX_CONNECTIONS_PER_KEY", default=10)
# The Alpaca stream (/v2/{feed}): the ticker the test feed's FAKEPACA stands for, and how long a
# client has to authenticate after connecting (Alpaca's 10 s).
ALPACA_FAKEPACA_TICKER = env("ALPACA_FAKEPACA_TICKER", default="SYNTH")
# Playback of stored ranges (/ws "playback", the Alpaca feed /v2/playback): at most this many
# running at once per API key (across processes; 0: no limit) and per daphne process, the longest
# range one may cover, and the messages a second all the playbacks of a process send together at
# most (at speed "max" each is also paced by its client's reading). bench playback (2 shared
# cores): at 1000 the live clients' p99 with 5 playbacks at max was 1.33x that without; at 2000
# 1.5-2.1x (the readers and PostgreSQL take the cores the live clients need); at 5000 tenfold.
PLAYBACK_MAX_PER_KEY = env.int("PLAYBACK_MAX_PER_KEY", default=2)
PLAYBACK_MAX_PER_PROCESS = env.int("PLAYBACK_MAX_PER_PROCESS", default=20)
PLAYBACK_MAX_RANGE_SECONDS = env.int("PLAYBACK_MAX_RANGE_SECONDS", default=86400)
PLAYBACK_MAX_RATE = env.float("PLAYBACK_MAX_RATE", default=1000.0)
ALPACA_STREAM_AUTH_TIMEOUT_S = 10.0
# The Massive stream (/stocks): seconds a connection has to send its auth message.
MASSIVE_STREAM_AUTH_TIMEOUT_S = 10.0
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

# Requests per client (API key, else IP) as "<n>/<second|minute|hour|day>"; empty = no limit.
API_RATE_LIMIT_ANON = env("API_RATE_LIMIT_ANON", default="600/minute")
API_RATE_LIMIT_KEY = env("API_RATE_LIMIT_KEY", default="6000/minute")
# Per dashboard token (each page's token counts on its own; a page needs a few requests a minute).
API_RATE_LIMIT_DASHBOARD = env("API_RATE_LIMIT_DASHBOARD", default="120/minute")
# Reverse proxies in front of daphne whose X-Forwarded-For entry names the client (0: none).
API_NUM_PROXIES = env.int("API_NUM_PROXIES", default=0)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "api.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiKeyAuthentication",
        "api.authentication.DashboardTokenAuthentication",
        "api.authentication.StaffSessionAuthentication",  # staff in the browsable API
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.ApiKeyIfRequired"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ClientRateThrottle"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.ContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "NUM_PROXIES": API_NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Synthetic Market API",
    "DESCRIPTION": "Seed-compatible REST API of the synthetic stock market (see the README).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["api.schema.drop_slash_aliases"],
}
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (*corsheaders_default_headers, "x-api-key", "x-dashboard-token")
CORS_EXPOSE_HEADERS = [
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "Link",
    "X-Request-ID",
]

# --- Request size limits ------------------------------------------------------------------------
# Daphne has no body-size limit and reads a whole body before Django runs: in production the
# reverse proxy in front of it (config/proxy/nginx.conf: client_max_body_size 1m, 10 s body and
# header timeouts) refuses large and slow bodies. These are Django's own limits behind it, for
# whatever reaches daphne directly. The API is GET-only; only the admin's forms take bodies, a few
# kilobytes each, so the proxy's 1 MiB is ample and Django's 2.5 MiB default is lowered to match.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # bytes of a request body (files excluded): else 400
# Fields of one form body (Django's default): an admin change list with list_editable on a page of
# 100 rows posts about 300; more is refused with 400.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# Nothing here accepts file uploads; an uploaded file larger than this would be written to a
# temporary file instead of kept in memory (the proxy caps the whole request at 1 MiB anyway).
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Content Security Policy ----------------------------------------------------------------------
# django-csp sends it on every answer. Everything the pages load is the project's own or an
# installed package's, served from this origin: no inline script or style anywhere (the templates
# keep them in static files; /api/v1/docs/ is drf-spectacular's split Swagger view, whose init
# script is a separate request), so neither 'unsafe-inline' nor 'unsafe-eval' is allowed.
# 'self' in connect-src also covers ws:/wss: to this host (the dashboard's /ws). Images may be data:
# URIs (Swagger UI's and the admin's CSS icons).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic also writes gzip/brotli copies, which WhiteNoise serves to clients that accept
    # them. Not the manifest (hashed names) storage: the dashboard's ES modules import each other
    # by plain relative URLs, and a checkout must serve pages before any collectstatic.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Also serve from the apps' static folders, so tests, CI and a fresh checkout need no collectstatic
# (STATIC_ROOT, filled by `make run` and the Docker image, is served as well).
WHITENOISE_USE_FINDERS = True

# --- Dashboard ----------------------------------------------------------------------------------
# Lifetime of the signed read-only token the dashboard page gets for the REST API and /ws when
# API_KEYS_REQUIRED is on; the page renews it at half-life, so 10 minutes only bounds a leak.
DASHBOARD_TOKEN_MAX_AGE_S = 600
# With API_KEYS_REQUIRED the dashboard and its token are for signed-in users only, unless this
# makes them public on purpose (whoever opens the page can then read what it shows).
DASHBOARD_PUBLIC = env.bool("DASHBOARD_PUBLIC", default=False)
# The ticker the dashboard shows first (the first active one when this one is not active).
DASHBOARD_DEFAULT_TICKER = env("DASHBOARD_DEFAULT_TICKER", default="SYNTH")

# --- Admin login ------------------------------------------------------------------------------
# django-axes locks a username from one client IP out after LOGIN_FAILURE_LIMIT failed logins in a
# row, for LOGIN_LOCKOUT_MINUTES (429); the client IP is the rate limiter's (API_NUM_PROXIES).
# Every failed login is logged (username and IP, never the password: marketsite.login_audit).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out attempts
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "api.throttling.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # our own line per failure (marketsite.login_audit) instead of axes' lines
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Fast paths ---------------------------------------------------------------------------------
# Shortcuts that buy speed by relying on a library's internals, each fenced in one module with a
# contract test, and each switched off here (then the plain public path runs; same answers, same
# frames). FAST_PATHS=false switches all of them off; one variable per shortcut overrides it.
# What each buys: bench/RESULTS.md ("fast paths"). Where each lives: the README ("Fast paths").
FAST_PATHS = env.bool("FAST_PATHS", default=True)
# /ws under daphne: frames written straight to the connection's autobahn protocol (found behind
# daphne's ASGI send: streaming/fenced/daphne_send.py), framed once per process.
FAST_WS_DIRECT_WRITE = env.bool("FAST_WS_DIRECT_WRITE", default=FAST_PATHS)
# /ws under daphne, with the direct write: bytes handed to the socket at once when Twisted has
# nothing buffered (streaming/fenced/twisted_tcp.py).
FAST_WS_EAGER_WRITE = env.bool("FAST_WS_EAGER_WRITE", default=FAST_PATHS)
# REST quote/tickers/time: DRF's dispatch awaited on the event loop (api/fenced/drf_dispatch.py).
FAST_HTTP_ASYNC_READS = env.bool("FAST_HTTP_ASYNC_READS", default=FAST_PATHS)
# REST live quote and the dialects' latest trade/quote, with the async reads: answered in the
# event loop's thread without Django's ASGI handler, the middleware's headers learned from each
# route's first answer (config/hot_reads.py, config/fenced/django_handler.py).
FAST_HTTP_HOT_READS = env.bool("FAST_HTTP_HOT_READS", default=FAST_PATHS)
# HTTP: each request's one-thread executor reused instead of started and joined per request
# (asgiref's public ThreadSensitiveContext(executor=...), config/asgi_handler.py).
FAST_HTTP_THREAD_REUSE = env.bool("FAST_HTTP_THREAD_REUSE", default=FAST_PATHS)
# Generation cycles published from sync code straight to channels-redis's pub/sub channels, one
# pipeline, instead of async_to_sync(group_send) (streaming/fenced/channels_redis_publish.py).
FAST_WS_LAYER_PUBLISH = env.bool("FAST_WS_LAYER_PUBLISH", default=FAST_PATHS)

# --- Metrics (Prometheus) ---------------------------------------------------------------------
# /metrics (README "Metrics"). METRICS_ENABLED=false records nothing and /metrics answers 404.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
# prometheus-client's multiprocess mode: the directory where every process of the host writes its
# metrics, so that any web process answers for all of them. The library reads the variable itself
# when it is imported; it must exist (created and emptied once per host before the processes
# start: `make run` and docker compose do it). Unset: each process serves only its own metrics.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR!r} is not a directory: create it "
        "(empty) before the processes start, or unset it."
    )
# Who may read /metrics: clients in these networks (the address the rate limits see, so behind
# API_NUM_PROXIES proxies the forwarded one), or any client sending `Authorization: Bearer
# <METRICS_TOKEN>`. Anyone else: 403 (401 when a token is set). Loopback only by default; the
# local settings open it.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
METRICS_TOKEN = env("METRICS_TOKEN", default="").strip()


def _check_networks(networks: list[str]) -> list[str]:
    """``networks`` stripped, each an address or a network (else ImproperlyConfigured)."""
    import ipaddress

    networks = [n.strip() for n in networks if n.strip()]
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                f"METRICS_ALLOWED_IPS: {network!r} is not an address or a network "
                "(e.g. 10.0.0.0/8,127.0.0.1)."
            ) from None
    return networks


METRICS_ALLOWED_IPS = _check_networks(METRICS_ALLOWED_IPS)

# --- Internationalization -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Health checks and metrics ---------------------------------------------------------------
# Plain-HTTP probes from a load balancer or orchestrator must not be redirected to HTTPS.
# Prometheus scrapes /metrics like a probe, often over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- Logging ------------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env("LOG_FORMAT", default="text")  # "json" in production

# Sets each record's request_id (the web app's context variable), named as middleware are.
REQUEST_ID_FILTER = "marketsite.request_context.RequestIdFilter"

from config.logging import build_logging  # noqa: E402

LOGGING = build_logging(level=LOG_LEVEL, fmt=LOG_FORMAT, request_id_filter=REQUEST_ID_FILTER)
