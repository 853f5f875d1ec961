"""Production: the secret is required, JSON logs, HTTPS hardening (switchable behind a proxy)."""

from django.core.exceptions import ImproperlyConfigured

from config.logging import build_logging

from .base import *  # noqa: F403
from .base import LOG_LEVEL, REQUEST_ID_FILTER, env

DEBUG = False
# No default: a missing or blank secret stops start-up.
SECRET_KEY = env.str("DJANGO_SECRET_KEY").strip()
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is empty: set it to a long random value.")

LOGGING = build_logging(
    level=LOG_LEVEL, fmt=env("LOG_FORMAT", default="json"), request_id_filter=REQUEST_ID_FILTER
)

# --- Security -----------------------------------------------------------------------------------
# Behind a TLS-terminating proxy the redirect is right; health probes over plain HTTP are exempt
# (SECURE_REDIRECT_EXEMPT in base). Set DJANGO_SECURE_SSL_REDIRECT=false to serve plain HTTP.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# X-Forwarded-Proto is believed only when a proxy that sets it (and strips the client's) is
# declared in front of daphne; otherwise any client could claim HTTPS.
BEHIND_PROXY = env.bool("DJANGO_BEHIND_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=True)
# One year: the HSTS preload list requires at least that with `preload` (check --deploy wants
# preload on, so the pair is chosen together).
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
