"""Project plumbing. The Celery app is exported here so `celery -A config ...` finds it."""

from .celery_app import app as celery_app

__all__ = ("celery_app",)
