"""Local development: debug on, a placeholder secret."""

from .base import *  # noqa: F403
from .base import _check_networks, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-insecure-placeholder-not-for-production")
# /metrics open to every client in development (the server binds to 127.0.0.1 by default).
METRICS_ALLOWED_IPS = _check_networks(
    env.list("METRICS_ALLOWED_IPS", default=["0.0.0.0/0", "::/0"])
)
