# stashd: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CLIENTS := .venv-clients
# pytest processes for `make test`: most tests wait on servers, not on a core.
TEST_WORKERS ?= 4
# Each Sensu client gets a virtualenv of its own: pysensu and pysensu-ng both
# install a module named `pysensu`.
CLIENT_PKGS := sensu-plugin==0.8.0 pysensu-ng==0.13.0 pysensu==0.5 sensu-go==0.5.0 \
  sensu-cli==0.1.0

.DEFAULT_GOAL := help
.PHONY: help deps clients system-deps run run-gunicorn dev fmt lint test test-fast fuzz bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.deps: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

deps: $(VENV)/.deps ## set up .venv from the requirements files

$(CLIENTS)/.deps: Makefile
	@for spec in $(CLIENT_PKGS); do \
	  name=$${spec%%==*}; \
	  $(PYTHON) -m venv $(CLIENTS)/$$name && \
	  $(CLIENTS)/$$name/bin/pip install -q "$$spec" || exit 1; \
	done
	touch $@

clients: $(CLIENTS)/.deps ## set up a virtualenv per real Sensu client (for the tests)

# What the tests use that no wheel brings: redis-server with TLS (the embedded Valkey
# is built without it), curl and jq (the README's example). Debian's packages.
SYSTEM_TOOLS := redis-server curl jq
system-deps: ## install the system tools the tests use, with apt-get, if missing
	@missing=""; for tool in $(SYSTEM_TOOLS); do \
	  command -v $$tool >/dev/null || missing="$$missing $$tool"; \
	done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -q && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

run: deps ## serve on 127.0.0.1:4567 and :8080 under granian (embedded Redis unless STASHD_REDIS_URL)
	$(BIN)/python -m server

run-gunicorn: deps ## the same under gunicorn, with gunicorn.conf.py
	$(BIN)/gunicorn

dev: deps ## Flask's debug server on 127.0.0.1:5000 (needs STASHD_REDIS_URL)
	$(BIN)/flask --app wsgi run --debug

fmt: deps ## format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: deps ## ruff (lint and format check), then mypy on the application code
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint clients ## everything: lint, unit, real-Redis, HTTP and client tests
	$(BIN)/pytest -n $(TEST_WORKERS) --durations=15 --tb=short

test-fast: deps ## the tests that need no server process
	$(BIN)/pytest -m "not integration and not http and not clients and not slow"

# The OpenAPI contract run of `make test`, longer: FUZZ_EXAMPLES per operation and
# phase, no time budget; FUZZ_SEED=<n> for other inputs than the fixed ones,
# FUZZ_PATH=<regex> for only the operations whose path it finds.
FUZZ_EXAMPLES ?= 100
fuzz: deps ## schemathesis against a live server, at length (about 10 min; README)
	STASHD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) STASHD_FUZZ_BUDGET=0 \
	  $(if $(FUZZ_SEED),STASHD_FUZZ_SEED=$(FUZZ_SEED)) \
	  $(if $(FUZZ_PATH),STASHD_FUZZ_PATH='$(FUZZ_PATH)') \
	  $(BIN)/pytest -p no:cacheprovider tests/http/test_openapi_contract.py -k test_contract

bench: deps ## the benchmarks, about 15 min (docs/benchmarks.md; BENCH_ARGS=--quick: 3 min)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean: ## remove the virtualenvs and caches (not ./var, the embedded Redis data)
	rm -rf $(VENV) $(CLIENTS) .pytest_cache .ruff_cache .mypy_cache
