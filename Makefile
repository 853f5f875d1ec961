# Two commands matter: `make run` (the whole service) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 3000
export PORT

.PHONY: run test test-system-deps install database migrate superuser bench clean

# A fresh virtualenv with exactly the pinned requirements (re-installed when they change).
$(BIN)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "Need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

database: install
	$(BIN)/python -m config.ensure_database

migrate: database
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo ""
	@echo "  Synthetic market starting (Ctrl-C stops everything):"
	@echo "    dashboard   http://localhost:$(PORT)/"
	@echo "    REST API    http://localhost:$(PORT)/api/v1/tickers"
	@echo "    WebSocket   ws://localhost:$(PORT)/ws"
	@echo "    admin       http://localhost:$(PORT)/admin/  (make superuser)"
	@echo "    readiness   http://localhost:$(PORT)/readyz"
	@echo ""
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start -f Procfile -p $(PORT)

superuser: migrate
	$(BIN)/python manage.py createsuperuser

# Under CI (CI=true, as root with apt-get) the system tools some tests drive are installed too:
# Debian's docker-compose validates docker-compose.yml; Debian's chromium runs the dashboard's
# browser test (Playwright drives it). Elsewhere those tests skip with a reason.
test-system-deps:
	@if [ "$$CI" = "true" ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  command -v docker-compose >/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }; \
	  command -v chromium >/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; \
	fi

test: install test-system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: migrate
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .celerybeat-schedule*
