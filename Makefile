# Two commands matter: `make run` (the whole service) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 3000
HOST ?= 127.0.0.1
export PORT HOST

.PHONY: run _migrate _createsuperuser lint test test-storage test-system-deps install database migrate superuser bench clean clean-data

# Runs a command with a database and Redis: DATABASE_URL/REDIS_URL when set, otherwise the embedded
# PostgreSQL and Valkey (data in .data/), started once for the command and stopped after it.
SUPERVISE := $(BIN)/python -m config.supervisor

# A fresh virtualenv with exactly the pinned requirements (re-installed when they change).
$(BIN)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "Need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

# `database` and `migrate` use the configured servers, or those of a running `make run`.
database: install
	$(SUPERVISE) --share -- $(BIN)/python -m config.ensure_database

migrate: install
	$(SUPERVISE) --share -- $(MAKE) --no-print-directory _migrate

_migrate:
	$(BIN)/python -m config.ensure_database
	$(BIN)/python manage.py migrate --noinput

# The supervisor checks the port, starts the embedded servers (when no URLs are set) once, for all
# of daphne, the workers and beat, and runs config.procman: migrate, collectstatic, then supervisord
# in the foreground, which restarts any process that dies (the supervisor restarts the embedded
# servers). Ctrl-C stops the processes, then the servers, and ends with "stopped" and status 0.
run: install
	@$(SUPERVISE) --port $(PORT) --host $(HOST) -- $(BIN)/python -m config.procman

superuser: install
	$(SUPERVISE) --share -- $(MAKE) --no-print-directory _migrate _createsuperuser

# Interactive in a terminal; without one, from DJANGO_SUPERUSER_USERNAME/_EMAIL/_PASSWORD
# (createsuperuser --noinput), or a clear error (Django would only say it skipped).
_createsuperuser:
	@if [ -n "$$DJANGO_SUPERUSER_USERNAME" ]; then \
	  $(BIN)/python manage.py createsuperuser --noinput && \
	  echo "Superuser $$DJANGO_SUPERUSER_USERNAME created: sign in at /admin/."; \
	elif [ -t 0 ]; then \
	  $(BIN)/python manage.py createsuperuser; \
	else \
	  echo "make superuser: no terminal to ask for a password. Without one, set the user in the" >&2; \
	  echo "environment and run it again (it then runs createsuperuser --noinput):" >&2; \
	  echo "  DJANGO_SUPERUSER_USERNAME=admin DJANGO_SUPERUSER_EMAIL=admin@example.com \\" >&2; \
	  echo "  DJANGO_SUPERUSER_PASSWORD='a long passphrase' make superuser" >&2; \
	  exit 1; \
	fi

# Under CI (CI=true, as root with apt-get) the system tools some tests drive are installed too:
# Debian's docker-compose validates docker-compose.yml; Debian's chromium runs the dashboard's
# browser test (Playwright drives it); Debian's nginx runs the proxy's configuration
# (config/tests/test_proxy.py starts its own nginx process on free ports). Elsewhere those tests
# skip with a reason.
test-system-deps:
	@if [ "$$CI" = "true" ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  command -v docker-compose >/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }; \
	  command -v chromium >/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; \
	  command -v nginx >/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }; \
	fi

# Without DATABASE_URL/REDIS_URL the test session starts temporary embedded servers (in a temp
# folder, removed after the run): testsupport/pytest_plugin.py, loaded by pytest.ini.
# Two xdist workers (TEST_WORKERS=0 runs in one process); see conftest.py for what stays together.
TEST_WORKERS ?= 2
# The architecture's import contracts and the style checks (both configured in pyproject.toml;
# docs/architecture.md explains the contracts). `make test` runs them first.
lint: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# --dist load, not loadgroup: grouped modules are scheduled out of pytest-django's order, so a
# transactional test (which empties the database when it ends) ran before tests that need the
# seeded tickers (conftest.py's process groups only take effect with --dist loadgroup).
test: install test-system-deps lint
	$(BIN)/python -m pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist load) $(PYTEST_ARGS)

# The tests of everything whose SQL differs between the TimescaleDB and the partitioned layout;
# point DATABASE_URL at a TimescaleDB server to run them there (README, "Testing on TimescaleDB").
STORAGE_TESTS := ticks/tests/test_storage.py ticks/tests/test_storage_timescaledb.py \
	ticks/tests/test_backfill.py ticks/tests/test_first_start.py ticks/tests/test_live.py \
	ticks/tests/test_flush.py ticks/tests/test_refresh.py ticks/tests/test_live_configs.py \
	ticks/tests/test_generate.py ticks/tests/test_rollup.py ticks/tests/test_status.py \
	ticks/tests/test_copy.py ticks/tests/test_pipeline_e2e.py ticks/tests/test_session_bars.py
test-storage: install
	$(BIN)/python -m pytest $(STORAGE_TESTS) $(PYTEST_ARGS)

bench: install
	$(SUPERVISE) --share -- $(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .celerybeat-schedule*

# The embedded servers' data (.data/, or EMBEDDED_DATA_DIR): the next `make run` starts afresh.
clean-data: install
	$(BIN)/python -m config.embedded clean
