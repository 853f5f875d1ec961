"""Static files served by the app itself (daphne has no static file server): WhiteNoise."""

import os

from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, minus its warning when ``STATIC_ROOT`` does not exist yet.

    Before ``collectstatic`` (tests, CI, a fresh checkout) there is no ``STATIC_ROOT`` and the
    files are served from the apps' static folders (``WHITENOISE_USE_FINDERS``); WhiteNoise
    would warn about that once per handler, i.e. on every test client.
    """

    def add_files(self, root, prefix=None):
        if os.path.isdir(root):
            super().add_files(root, prefix)
