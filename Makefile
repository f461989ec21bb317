# Launch Portal: `make run` (the embedded default) and `make test` (the suite on PostgreSQL).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/launch_portal

.PHONY: run prod test lint format install install-dev clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: migrate, load the demo launch, then web + worker + beat in the foreground (Ctrl-C stops all)
run: install
	DEBUG=$${DEBUG:-1} PORT=$(PORT) scripts/run-embedded

## prod: as in production (DEBUG off, PostgreSQL, Redis, gunicorn, worker, beat); needs SECRET_KEY
prod: install
	PORT=$${PORT:-8001} scripts/prod

## test: the whole suite on PostgreSQL, plus migrations and lint checks
test: install-dev
	DEBUG=1 DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} scripts/test

## soak: RELIABILITY case 20 on loopback: 50 viewers and 5 signers for SOAK_SECONDS (300) against
## gunicorn, worker and beat with DEBUG off; flushes SOAK_BROKER_URL; exit 1 names a failed check
SOAK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/launch_portal_soak
SOAK_BROKER_URL ?= redis://127.0.0.1:6379/8
.PHONY: soak
soak: install-dev
	scripts/ensure_redis
	DATABASE_URL=$(SOAK_DATABASE_URL) $(PY) scripts/ensure_database.py
	SOAK_DATABASE_URL=$(SOAK_DATABASE_URL) SOAK_BROKER_URL=$(SOAK_BROKER_URL) $(PY) -m bench.soak

## bench: issue 8's figures on a large data set (generated once into BENCH_DATABASE_URL, which it
## may recreate) with gunicorn, DEBUG off, locust and a real worker and Prometheus; flushes
## BENCH_BROKER_URL; writes var/bench/results.json and the table of BENCHMARKS.md
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/launch_portal_bench
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/13
.PHONY: bench
bench: install-dev
	scripts/system-deps
	scripts/ensure_redis
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) scripts/ensure_database.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_BROKER_URL=$(BENCH_BROKER_URL) $(PY) -m bench.run

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var
