# Electronic supervision stream processor — developer commands.
# `make help` lists the targets. Everything a target needs is installed by it.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
NATIVE := streams/engine/_native.json
NATIVE_SOURCES := $(wildcard streams/engine/*.py streams/engine/rules/*.py)
# The live service's steps and core, type-checked strictly (the Faust wiring in app.py and
# faust_app.py goes through Faust's untyped decorators and is checked by the plain run).
LIVE_STEPS := $(filter-out streams/live/app.py streams/live/faust_app.py,$(wildcard streams/live/*.py))

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Runtime dependencies at the exact versions of deploy/constraints.txt (as in the image).
$(STAMP): pyproject.toml deploy/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c deploy/constraints.txt -e '.[dev]'
	touch $(STAMP)

# Compiles the hot engine modules with mypyc in place. Without a compiler it warns and the
# engine runs as pure Python (no manifest is written, so the next make tries again).
$(NATIVE): $(STAMP) $(NATIVE_SOURCES) scripts/build_native.py
	$(PY) scripts/build_native.py

.PHONY: venv
venv: $(STAMP) $(NATIVE) ## Create the virtualenv, install the package with its dev tools, compile the engine

.PHONY: native
native: $(STAMP) ## Recompile the engine with mypyc (SUPERVISION_PURE_PYTHON=1 runs the .py files instead)
	$(PY) scripts/build_native.py

.PHONY: test-pure
test-pure: venv ## The engine, CLI and schema tests with the engine as pure Python
	SUPERVISION_PURE_PYTHON=1 $(PY) -m pytest -q tests/engine tests/cli tests/schemas

.PHONY: services
services: ## Install the ClickHouse server package and the operator tools (promtool) if missing
	bash scripts/clickhouse-server.sh install
	bash scripts/install-tools.sh

.PHONY: test
test: venv services ## Run the whole test suite (starts Tansu and ClickHouse on loopback, stops them after)
	$(PY) -m pytest -q --durations=25

.PHONY: check
check: lint test test-pure ## What CI runs, plus lint and type checks

.PHONY: lint
lint: venv ## ruff and mypy (--strict on the engine and the workflow)
	$(VENV)/bin/ruff check streams tests benchmarks
	$(VENV)/bin/mypy streams
	$(VENV)/bin/mypy --strict streams/engine streams/workflow
	$(VENV)/bin/mypy --strict --follow-imports=silent $(LIVE_STEPS)

.PHONY: bench
bench: venv services ## Benchmarks: replay engine, storage writer, live service, recovery of 1,000,000 open cases (prints figures and ratios)
	$(PY) benchmarks/run.py

SOAK_MINUTES ?= 30
SOAK_RATE    ?= 2000
.PHONY: soak
soak: venv services ## Soak run, not in CI: SOAK_MINUTES (30) at SOAK_RATE events/s (2000) with poison input; per-minute RSS, state, lag, p99; users' reads vs replay
	$(PY) benchmarks/soak.py --minutes $(SOAK_MINUTES) --rate $(SOAK_RATE)

.PHONY: run
run: venv services ## Local demonstration: broker, worker, generated workload, live alerts, summary
	bash scripts/run-demo.sh

.PHONY: screenshots
screenshots: venv services ## README's screenshots (docs/images/inbox.png, bulletin.png) from a browser run of the web tests
	bash scripts/screenshots.sh

.PHONY: clean
clean: ## Remove local data (var/), caches and the compiled engine modules
	rm -rf var .pytest_cache .mypy_cache .ruff_cache build
	test ! -x $(PY) || $(PY) scripts/build_native.py --clean
