# One image for every process of the service: web (daphne), worker and beat (celery), migrate.
# docker-compose.yml runs it; `docker build -t synthetic-market .` builds it alone.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PORT=3000 \
    HOST=0.0.0.0

WORKDIR /app

# A system user without a login shell or home of its own; the code stays root-owned (read-only to it).
RUN groupadd --system app \
    && useradd --system --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app

# Dependencies first, so that editing the code does not reinstall them. Every dependency ships a
# manylinux wheel (psycopg-binary, numpy, Twisted...), so no compiler is needed.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# Static files are collected at build time with the production settings. Those refuse to load without
# a secret, so this one step gets a throwaway value: a build argument, never an ENV of the image.
ARG COLLECTSTATIC_SECRET_KEY=collectstatic-build-only-not-a-secret
RUN DJANGO_SECRET_KEY="$COLLECTSTATIC_SECRET_KEY" python manage.py collectstatic --noinput --verbosity 0

USER app

EXPOSE 3000

# Metrics (README "Metrics"): with several processes in one container, set PROMETHEUS_MULTIPROC_DIR to
# a directory that is empty when the container starts (docker-compose.yml mounts a tmpfs at
# /run/prometheus); unset, each process serves only its own metrics.

# No HEALTHCHECK here: worker, beat and migrate share this image and serve no HTTP. The web service's
# check lives in docker-compose.yml and uses python's urllib (slim images have no curl):
#   python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=3)"

# The web processes: supervisord binds HOST:PORT once and runs WEB_CONCURRENCY daphne processes
# (default: one per CPU) on that one socket (`config/procman.py`, as `make run` does), restarting
# any that dies; daphne takes the client's address from the proxy's X-Forwarded-For. The daphne
# options (no WebSocket time limit, pings, 4 MiB messages) are procman's. `exec` form: supervisord
# (under compose's init) receives the stop signal and stops the daphne processes.
CMD ["python", "-m", "config.procman", "web", "--proxy-headers"]
