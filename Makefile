# `make run` starts the service with the embedded defaults; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint ci bench

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# Front-end packages (chart.js for the operators' overview), exactly as package-lock.json pins them.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# DEBUG=1 for a local trial: generated keys in var/, password sign-in on. `make run DEMO=1`
# also prints a demo trader's credentials.
# On exit the trap runs once and gives the qcluster 10 s: django-q2's qcluster can deadlock in
# its signal handler when signals reach it and its children together (Ctrl-C reaches the whole
# group), and would then outlive `make run`; it is killed after that.
run: $(VENV)/.installed node_modules/.installed
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	@if [ -n "$(DEMO)" ]; then DEBUG=$${DEBUG:-1} $(PY) manage.py demo --base-url http://$(HOST):$(PORT); fi
	@export DEBUG=$${DEBUG:-1}; \
	$(PY) manage.py qcluster & qcluster=$$!; \
	$(PY) manage.py host_agent & agent=$$!; \
	trap 'trap - EXIT INT TERM; kill $$qcluster $$agent 2>/dev/null; \
		for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $$qcluster 2>/dev/null || break; sleep 1; done; \
		kill -9 $$qcluster 2>/dev/null; wait $$qcluster $$agent 2>/dev/null' EXIT INT TERM; \
	echo "mt5saas on http://$(HOST):$(PORT)/  (Ctrl-C stops daphne, the qcluster and the host agent)"; \
	$(PY) -m mt5saas.serve -b $(HOST) -p $(PORT) mt5saas.asgi:application

test: $(VENV)/.installed node_modules/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff, and the import contracts in pyproject.toml (layers, front doors: docs/architecture.md).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Every benchmark area, one table each, JSON and a chart in bench/results/:
# `make bench BENCH_ARGS=--quick`, `make bench BENCH_ARGS="--scaled --redis-url redis://127.0.0.1:6379/9"`.
bench: $(VENV)/.installed
	$(PY) -m bench $(BENCH_ARGS)
