# Takt: `make demo` runs a live factory on this machine, `make test` proves it works.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

OUTSIDERS := tests/outsiders/node_modules/.installed

.PHONY: sparkplug-proto demo test lint bench bench-year bench-soak faults debs-demo debs-test venv clean outsiders

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# PLC servers not built on asyncua or pymodbus (node-opcua, modbus-serial), for the edge's tests
$(OUTSIDERS): tests/outsiders/package.json tests/outsiders/package-lock.json
	cd tests/outsiders && npm ci --no-audit --no-fund --loglevel=error
	touch $(OUTSIDERS)

outsiders: debs-test $(OUTSIDERS)

debs-demo:
	bash deploy/debian-deps.sh demo

debs-test:
	bash deploy/debian-deps.sh test

demo: debs-demo $(STAMP)
	$(BIN)/takt demo

# the Sparkplug B payload classes, generated from the specification's message definition (committed)
sparkplug-proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Ishared/sparkplug --python_out=shared/sparkplug \
		--pyi_out=shared/sparkplug shared/sparkplug/sparkplug_b.proto

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: debs-test $(STAMP) $(OUTSIDERS) lint
	$(BIN)/python -m pytest -q --durations=15

faults: debs-test $(STAMP) $(OUTSIDERS)
	$(BIN)/python -m pytest -q -m faults

bench: debs-test $(STAMP)
	$(BIN)/python -m bench

# a year of the 50-machine plant on SQLite and PostgreSQL (docs/sizing.md); YEAR_DAYS/YEAR_MACHINES shrink it
bench-year: debs-test $(STAMP)
	$(BIN)/python -m bench year_run

# the demo plant at accel 60 for SOAK_SECONDS (600): RSS and open files of every process (docs/sizing.md)
bench-soak: debs-test $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) var test-artifacts .mypy_cache .ruff_cache .pytest_cache tests/outsiders/node_modules
