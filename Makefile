# loanflow — the README's two commands are `make run` and `make test`; each sets itself up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
DEV    := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run run-services test test-fast lint migrate services server-packages install install-dev clean tools bench

# Runtime packages only (make run); the test and benchmark tools come with `make test`.
$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	@touch $@

$(DEV): $(STAMP) requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $@

install: $(STAMP)
install-dev: $(DEV)

## The whole system in one process: SQLite, in-process broker, gateway on http://127.0.0.1:8000
run: install
	$(BIN)/python -m loanflow.cli embedded --host $(HOST) --port $(PORT)

## The same code as separate processes on RabbitMQ + PostgreSQL (gunicorn, dramatiq workers hosting the relays, gateway)
run-services: install services
	set -a; . deploy/local/services.env; set +a; \
	export LOANFLOW_SECRET_KEY=$${LOANFLOW_SECRET_KEY:-$$($(BIN)/python -c 'from common.kernel.environment import Environment; from loanflow.local_secrets import ensure_secret as e; print(e("LOANFLOW_SECRET_KEY", "", Environment().var_dir()))')}; \
	$(BIN)/python -m loanflow.cli migrate && $(BIN)/python -m loanflow.cli staff ensure-admin && PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start -f Procfile

## Start RabbitMQ and PostgreSQL if they are down, create the databases
services:
	bash deploy/local/ensure_services.sh

## The PostgreSQL and RabbitMQ programs the tests boot their own servers from (none is started here)
server-packages:
	bash deploy/local/ensure_server_packages.sh

## Every test: unit, integration (real PostgreSQL), end to end (real processes on RabbitMQ + PostgreSQL),
## browser pages (Debian's Chromium), deployment files (validators), fault injection. The suite
## starts its own PostgreSQL cluster and RabbitMQ node and leaves the machine's servers alone.
test: install-dev server-packages tools
	$(BIN)/python -m pytest -q

## System tools the tests and benchmarks use: Chromium, validators, wrk (installed when missing)
tools:
	bash deploy/local/ensure_browser.sh
	bash deploy/local/ensure_tools.sh
	@test ! -f bench/ensure_tools.sh || bash bench/ensure_tools.sh

## Benchmarks on the real stack; prints the table, writes bench/results/latest.json
bench: install-dev services tools
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.surge --held-from bench/results/latest.json

## Only the unit tests: code imported and called, no server, process or socket (tests/README.md)
test-fast: install-dev
	$(BIN)/python -m pytest -q tests/unit

lint: install-dev
	$(BIN)/ruff check .

migrate: install
	$(BIN)/python -m loanflow.cli migrate

clean:
	rm -rf var .pytest_cache
