# aimaas: `make run` serves, `make test` tests. Everything installs into .venv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: run test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip==25.3

# Stamps: reinstall when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/aimaas serve

lint: $(VENV)/.installed-test
	$(BIN)/ruff check aimaas tests
	$(BIN)/ruff format --check aimaas tests
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

format: $(VENV)/.installed-test
	$(BIN)/ruff format aimaas tests
	$(BIN)/ruff check --fix aimaas tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
