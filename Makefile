# Two commands set everything up on a fresh machine: `make run` and `make test`.
# Each creates .venv when missing and (re)installs when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "capsule-proxy needs Python 3.11 or newer, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/capsule-proxy serve

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info

# Benchmarks (bench/README.md): 10-20 minutes; BENCH_ARGS="--quick" for a smoke run (~4 minutes).
# Needs wrk (apt-get install wrk; without it a slower Python load generator); the test extras
# bring PyYAML, which reads the Kubernetes memory limit. Results: bench/results/latest.json.
.PHONY: bench
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.suite $(BENCH_ARGS)

# The container image (deploy/README.md), tagged with the project version. Needs a Docker daemon
# and the base image python:3.11-slim (pulled on first use where a registry is reachable).
# tests/deploy/test_docker.py runs it where both are there.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
.PHONY: image
image:
	docker build -f deploy/Dockerfile -t capsule-proxy:$(VERSION) .
