# Dealflow: `make run` (SQLite + demo data) and `make test` do all set-up on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# What running needs, and on top of it the development tools (pytest, playwright, mypy, locust, ...):
# `make run` installs only the first; `make test` and `make lint` add the second.
STAMP  := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-run
PIP    := $(BIN)/pip install --quiet --quiet --disable-pip-version-check
export DJANGO_SETTINGS_MODULE := config.settings

.PHONY: run test test-fast test-postgres lint format bench browsers install install-run clean worker messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e ".[dev]"
	touch $(RUN_STAMP) $(STAMP)

install-run: $(RUN_STAMP)

install: $(STAMP)

# RUN_ARGS passes options through, e.g. `make run RUN_ARGS="--bind 127.0.0.1:8031 --demo-deals 500"`.
run: $(RUN_STAMP)
	$(BIN)/dealflow run $(RUN_ARGS)

worker: $(RUN_STAMP)
	$(BIN)/dealflow worker $(WORKER_ARGS)

# Browser tests need Debian's chromium; `make browsers` installs it when it is missing (needs root).
browsers:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# The suite runs in a random order (pytest-randomly), so a test that depends on another's leftovers fails
# in CI; the seed is printed, and `make test TEST_SEED=1234` repeats that order.
TEST_SEED ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
RANDOM_ORDER = --randomly-seed=$(TEST_SEED)

test: $(STAMP) browsers
	@echo "== random order: TEST_SEED=$(TEST_SEED)"
	$(BIN)/python -m pytest -n 2 --dist loadfile -q $(RANDOM_ORDER) $(PYTEST_ARGS)

test-fast: $(STAMP)
	@echo "== random order: TEST_SEED=$(TEST_SEED)"
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not browser" $(RANDOM_ORDER) $(PYTEST_ARGS)

test-postgres: $(STAMP) browsers
	@echo "== random order: TEST_SEED=$(TEST_SEED)"
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/python -m pytest -n 2 --dist loadfile -q $(RANDOM_ORDER) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DEALFLOW_TESTING=1 $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/mypy src config

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

messages: $(STAMP)
	cd src/dealflow && ../../$(BIN)/python ../../manage.py compilemessages

# BENCH picks another benchmark and its arguments, e.g. `make bench BENCH=load` or `make bench BENCH="load api"`.
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH)

clean:
	rm -rf var/dealflow.sqlite3* var/static
