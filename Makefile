# Two commands on a fresh clone: `make run` (daemon + built-in simulator) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint install bench

$(BIN)/hrec-ingest: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/hrec-ingest

run: install
	$(BIN)/hrec-ingest run --simulate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install
	$(BIN)/python -m pytest

# The quick benchmark, a few minutes (not part of `make test`); full sizes in docs/benchmarks.md.
bench: install
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks.run
