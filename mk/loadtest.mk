# `make loadtest`: Locust, headless, against the running stack; see loadtest/README.md.
# Included from the main Makefile, which defines BIN, PROFILE and the `setup` target.
#
#   make loadtest                                        # 4 users, 60 s, against `make dev`
#   make loadtest HOST=http://10.0.0.5:8080 USERS=32 DURATION=5m OUT=loadtest/results/h100
#   make loadtest SHAPE=step USERS=64 STEP_USERS=8 STEP_DURATION=60s SLO_TTFT_MS=1500
#   make loadtest SHAPE=open RATE=20 DURATION=3m MIX=stream=3,extract=1
#   make loadtest-report OUT=loadtest/results/20260101-120000   # redo report from a folder
#
# Empty variables are left to `python -m loadtest run`'s defaults (`--help` lists them all);
# LOADTEST_ARGS passes any other option through.

# zsh and some CI images export HOST as the machine's name: only a URL given to make counts.
ifeq ($(origin HOST),environment)
HOST := http://127.0.0.1:8080
endif
HOST ?= http://127.0.0.1:8080
DEV_GATEWAY := http://127.0.0.1:8080
# Against `make dev` the engine's metrics and profile are known; elsewhere, say them.
ENGINE_METRICS_URL ?= $(if $(filter $(DEV_GATEWAY),$(HOST)),http://127.0.0.1:8000/metrics)
ENGINE_PROFILE ?= $(if $(filter $(DEV_GATEWAY),$(HOST)),$(PROFILE))
USERS ?=
DURATION ?=
SHAPE ?=
MIX ?=
OUT ?=
SPAWN_RATE ?=
SLO_TTFT_MS ?=
SLO_ITL_MS ?=
SLO_E2E_MS ?=
STEP_USERS ?=
STEP_DURATION ?=
RATE ?=
ARRIVAL ?=
SCHEMAS ?=
NUM_CROPS ?=
MAX_TOKENS ?=
PROCESSES ?=
LABEL ?=
LOADTEST_ARGS ?=

LOADTEST_FLAGS = --host $(HOST) \
	$(if $(USERS),--users $(USERS)) \
	$(if $(DURATION),--duration $(DURATION)) \
	$(if $(SHAPE),--shape $(SHAPE)) \
	$(if $(MIX),--mix $(MIX)) \
	$(if $(OUT),--out $(OUT)) \
	$(if $(SPAWN_RATE),--spawn-rate $(SPAWN_RATE)) \
	$(if $(SLO_TTFT_MS),--slo-ttft-ms $(SLO_TTFT_MS)) \
	$(if $(SLO_ITL_MS),--slo-itl-ms $(SLO_ITL_MS)) \
	$(if $(SLO_E2E_MS),--slo-e2e-ms $(SLO_E2E_MS)) \
	$(if $(STEP_USERS),--step-users $(STEP_USERS)) \
	$(if $(STEP_DURATION),--step-duration $(STEP_DURATION)) \
	$(if $(RATE),--rate $(RATE)) \
	$(if $(ARRIVAL),--arrival $(ARRIVAL)) \
	$(if $(SCHEMAS),--schemas $(SCHEMAS)) \
	$(if $(NUM_CROPS),--num-crops $(NUM_CROPS)) \
	$(if $(MAX_TOKENS),--max-tokens $(MAX_TOKENS)) \
	$(if $(PROCESSES),--processes $(PROCESSES)) \
	$(if $(ENGINE_METRICS_URL),--engine-metrics-url $(ENGINE_METRICS_URL)) \
	$(if $(ENGINE_PROFILE),--engine-profile $(ENGINE_PROFILE)) \
	$(if $(LABEL),--label "$(LABEL)")

.PHONY: loadtest loadtest-report

loadtest: setup
	$(BIN)/python -m loadtest run $(strip $(LOADTEST_FLAGS)) $(LOADTEST_ARGS)

loadtest-report: setup
	@test -n "$(OUT)" || { echo "usage: make loadtest-report OUT=<results folder>" >&2; exit 2; }
	$(BIN)/python -m loadtest report $(OUT)
