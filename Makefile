# The README's commands. Each creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: demo test lint typecheck bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[discord,slack,postgres,llm,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hotpapers demo

# Bytecode compiled first: the e2e tests start many `hotpapers` processes, which then need not compile bot/ each
# (PYTHONDONTWRITEBYTECODE keeps them from writing it). The tests are spread over one pytest-xdist worker per core,
# each taking the next test when it is free (the slow chaos and e2e tests do not hold up a queue).
test: typecheck
	$(BIN)/python -m compileall -q bot adapters
	$(BIN)/python -m pytest -q -n auto --dist worksteal --cov=bot --cov=adapters --cov-report=term:skip-covered

lint: typecheck
	$(BIN)/ruff check bot adapters tests bench
	$(BIN)/ruff format --check bot adapters tests bench

# mypy as configured in pyproject.toml: strict for bot/, regular for adapters/; `make test` (CI) runs it first.
typecheck: $(STAMP)
	$(BIN)/mypy

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[discord,slack,postgres,llm,dev,bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .coverage hotpapers.db
