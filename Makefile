# Takt: `make demo` runs a live factory on this machine, `make test` proves it works.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench faults debs-demo debs-test venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

debs-demo:
	bash deploy/debian-deps.sh demo

debs-test:
	bash deploy/debian-deps.sh test

demo: debs-demo $(STAMP)
	$(BIN)/takt demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: debs-test $(STAMP) lint
	$(BIN)/python -m pytest -q --durations=15

faults: debs-test $(STAMP)
	$(BIN)/python -m pytest -q -m faults

bench: debs-test $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var test-artifacts .mypy_cache .ruff_cache .pytest_cache
