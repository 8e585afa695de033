# opskit: `make demo` and `make test` each bootstrap a venv and a browser on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap test test-fast demo demo-cluster bench lint fmt clean

bootstrap:
	@PYTHON=$(PYTHON) scripts/bootstrap.sh

# Two test processes, each taking whole files (module fixtures such as the console start once per file).
TEST_WORKERS ?= 2

test: bootstrap
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: bootstrap
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not browser and not slow and not process"

demo: bootstrap
	$(PY) -m demo.run_demo

demo-cluster: bootstrap
	$(PY) -m demo.run_cluster

bench: bootstrap
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(PY) bench/run_all.py

LINTED := opskit tasks tests demo bench scripts runner.py

lint: bootstrap
	$(PY) -m ruff check $(LINTED)
	$(PY) -m ruff format --check $(LINTED)
	$(PY) -m mypy opskit
	@# Task parameters take literal defaults that the registry converts (period: Period = "yesterday"),
	@# which mypy reads as a type mismatch: that one check is off for tasks/.
	$(PY) -m mypy --disable-error-code assignment tasks

fmt: bootstrap
	$(PY) -m ruff check --fix $(LINTED)
	$(PY) -m ruff format $(LINTED)

clean:
	rm -rf var outbox data .pytest_cache
