# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Links in QR codes, embed snippets and invitations point at the server `make run` starts.
export SITE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test install lint format check chromium screenshot clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## run: the app with demo data: web server, Celery worker and beat (Ctrl-C stops all three)
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_data
	@echo ""
	@echo "  csat is running at http://127.0.0.1:$(PORT)/"
	@echo "  Demo log-ins (password csat-demo): staff, manager, admin"
	@echo "  API (docs at /api/v1/docs/): the token of user crm is printed above"
	@echo "  Database: $${DATABASE_URL:-SQLite in ./var}   Broker: $${REDIS_URL:-filesystem queue in ./var/broker}"
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" CSAT_PORT=$(PORT) $(BIN)/honcho start -f Procfile.dev

## test: the whole suite (PostgreSQL/Redis tests run when DATABASE_URL/REDIS_URL are set)
test: install chromium
	$(BIN)/python -m pytest

## chromium: the browser tests drive Debian's Chromium; install it when missing and we are root
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Chromium for the browser tests (apt-get)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing: install it (sudo apt-get install chromium) for the browser tests."; \
	  fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: install
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

## screenshot: docs/dashboard.png for the README, taken from a running `make run`
screenshot: install chromium
	$(BIN)/python -m docs.screenshot http://127.0.0.1:$(PORT)

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache .mypy_cache
