# Electronic supervision stream processor — developer commands.
# `make help` lists the targets. Everything a target needs is installed by it.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## Create the virtualenv and install the package with its dev tools

.PHONY: services
services: ## Install the ClickHouse server package and the operator tools (promtool) if missing
	bash scripts/clickhouse-server.sh install
	bash scripts/install-tools.sh

.PHONY: test
test: venv services ## Run the whole test suite (starts Tansu and ClickHouse on loopback, stops them after)
	$(PY) -m pytest -q

.PHONY: check
check: lint test ## What CI runs, plus lint and type checks

.PHONY: lint
lint: venv ## ruff and mypy
	$(VENV)/bin/ruff check streams tests benchmarks
	$(VENV)/bin/mypy streams

.PHONY: bench
bench: venv services ## Benchmarks: replay engine, storage writer, live service (prints figures and ratios)
	$(PY) benchmarks/run.py

.PHONY: run
run: venv services ## Local demonstration: broker, worker, generated workload, live alerts, summary
	bash scripts/run-demo.sh

.PHONY: clean
clean: ## Remove local data (var/) and caches
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
