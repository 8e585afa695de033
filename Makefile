# opskit: `make demo` and `make test` each bootstrap a venv and a browser on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap test test-fast demo bench lint fmt clean

bootstrap:
	@PYTHON=$(PYTHON) scripts/bootstrap.sh

test: bootstrap
	$(PY) -m pytest

test-fast: bootstrap
	$(PY) -m pytest -m "not browser and not slow"

demo: bootstrap
	$(PY) -m demo.run_demo

bench: bootstrap
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(PY) bench/run_all.py

lint: bootstrap
	$(PY) -m pip install --quiet --disable-pip-version-check ruff
	$(PY) -m ruff check opskit tasks tests demo bench runner.py

fmt: bootstrap
	$(PY) -m pip install --quiet --disable-pip-version-check ruff
	$(PY) -m ruff check --fix opskit tasks tests demo bench runner.py

clean:
	rm -rf var outbox data .pytest_cache
