"""Settings of the daphne that ``python -m bench rest`` starts: the local settings with debug
off, plus a bench-only URLconf holding the baseline view. Never used by the service itself."""

from config.settings.local import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.rest_urls"
