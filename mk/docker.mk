# Containers on one host (docker/compose.yaml). Included from the Makefile, which defines BIN.
#
#   make up                      # GPU: vLLM (Phi-3.5-vision, weights baked in) + gateway
#   make up STACK=cpu            # no GPU: vLLM CPU on the tiny checkpoint + gateway
#   make up VLLM_PROFILE=l4-24g  # another engine profile for the GPU image
#   make up REPLICAS=2           # a second gateway (port 8081) on the same keys and limits
#   make down                    # stop and remove both variants' containers; keys stay
#   make docker-check            # the offline checks of docker/ (also part of `make test`)
#
# `up` needs only Docker Engine with a 2024-or-later Compose v2 (and the NVIDIA Container Toolkit
# for the GPU variant), not the Python environment: a fresh GPU host can run it.

COMPOSE ?= docker compose
COMPOSE_FILE_PATH := docker/compose.yaml
STACK ?= gpu
# 2 adds the `replicas` profile: a second gateway sharing PostgreSQL and Valkey with the first.
REPLICAS ?= 1
# The first start loads weights and captures CUDA graphs; `--wait` gives up after this long.
UP_WAIT_S ?= 1200

.PHONY: up down docker-check

up:
	@case "$(STACK)" in gpu|cpu) ;; *) echo "STACK must be gpu or cpu, got '$(STACK)'" >&2; exit 2;; esac
	@case "$(REPLICAS)" in 1|2) ;; *) echo "REPLICAS must be 1 or 2, got '$(REPLICAS)'" >&2; exit 2;; esac
	$(COMPOSE) -f $(COMPOSE_FILE_PATH) --profile $(STACK) $(if $(filter 2,$(REPLICAS)),--profile replicas) up --build --detach --wait --wait-timeout $(UP_WAIT_S)
	@echo "gateway: http://localhost:$${GATEWAY_PORT:-8080}  (create a key: $(COMPOSE) -f $(COMPOSE_FILE_PATH) exec gateway python -m gateway keys create --name me)"

down:
	$(COMPOSE) -f $(COMPOSE_FILE_PATH) --profile gpu --profile cpu --profile replicas down

docker-check: setup
	$(BIN)/python -m pytest tests/unit/docker $(PYTEST_ARGS)
