# Containers on one host (docker/compose.yaml). Included from the Makefile, which defines BIN.
#
#   make up                      # GPU: vLLM (Phi-3.5-vision, weights baked in) + gateway
#   make up STACK=cpu            # no GPU: vLLM CPU on the tiny checkpoint + gateway
#   make up VLLM_PROFILE=l4-24g  # another engine profile for the GPU image
#   make down                    # stop and remove both variants' containers; keys stay
#   make docker-check            # the offline checks of docker/ (also part of `make test`)
#
# `up` needs only Docker Engine with a 2024-or-later Compose v2 (and the NVIDIA Container Toolkit
# for the GPU variant), not the Python environment: a fresh GPU host can run it.

COMPOSE ?= docker compose
COMPOSE_FILE_PATH := docker/compose.yaml
STACK ?= gpu
# The first start loads weights and captures CUDA graphs; `--wait` gives up after this long.
UP_WAIT_S ?= 1200

.PHONY: up down docker-check

up:
	@case "$(STACK)" in gpu|cpu) ;; *) echo "STACK must be gpu or cpu, got '$(STACK)'" >&2; exit 2;; esac
	$(COMPOSE) -f $(COMPOSE_FILE_PATH) --profile $(STACK) up --build --detach --wait --wait-timeout $(UP_WAIT_S)
	@echo "gateway: http://localhost:$${GATEWAY_PORT:-8080}  (create a key: $(COMPOSE) -f $(COMPOSE_FILE_PATH) exec gateway python -m gateway keys create --name me)"

down:
	$(COMPOSE) -f $(COMPOSE_FILE_PATH) --profile gpu --profile cpu down

docker-check: setup
	$(BIN)/python -m pytest tests/unit/docker $(PYTEST_ARGS)
