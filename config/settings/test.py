"""Test settings: a placeholder secret, fast password hashing, their own Redis prefixes."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-insecure-placeholder")
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Keep tests away from a running `make run` on the same Redis.
CHANNEL_LAYER_PREFIX = env("CHANNEL_LAYER_PREFIX", default="test-asgi")
MARKET_REDIS_PREFIX = env("MARKET_REDIS_PREFIX", default="test-market")
CACHES["default"]["KEY_PREFIX"] = MARKET_REDIS_PREFIX  # noqa: F405
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = CHANNEL_LAYER_PREFIX  # noqa: F405
# No first-start history unless a test asks for it.
FIRST_START_HISTORY_DAYS = env.float("FIRST_START_HISTORY_DAYS", default=0.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{MARKET_REDIS_PREFIX}:celery:"}
