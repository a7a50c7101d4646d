# syntax=docker/dockerfile:1.7
# vLLM serving microsoft/Phi-3.5-vision-instruct, weights baked in, started from an engine
# profile. Build from the repository root (BuildKit; `docker compose build` uses it):
#
#   docker build -f docker/vllm.Dockerfile -t vision-stack/vllm:dev .
#   # only if the Hub needs a token (the model is public, MIT-licensed):
#   docker build -f docker/vllm.Dockerfile --secret id=hf_token,env=HF_TOKEN -t vision-stack/vllm:dev .
#
#   docker run --gpus all --shm-size 2g -e VLLM_PROFILE=l4-24g vision-stack/vllm:dev
#
# Base image: the official vLLM OpenAI server at the tag of vLLM 0.32.0 (tags are "v" + the
# version; "-cu129" variants exist for hosts whose driver predates the CUDA of the default
# tag). A tag can be re-pushed; to pin the exact bytes, resolve its digest once
#   docker buildx imagetools inspect vllm/vllm-openai:v0.32.0     # prints "Digest: sha256:…"
# and build with --build-arg VLLM_IMAGE=vllm/vllm-openai:v0.32.0@sha256:<that digest>.
ARG VLLM_IMAGE=vllm/vllm-openai:v0.32.0
ARG MODEL_ID=microsoft/Phi-3.5-vision-instruct
# A full commit hash of the model repository, never a branch: "main" moves. This default was
# seen as the snapshot commit of microsoft/Phi-3.5-vision-instruct in several public Hugging
# Face caches; it was not checked against the Hub from here. A revision that does not exist
# fails the download below. The current head: https://huggingface.co/api/models/<MODEL_ID>
# (field "sha").
ARG MODEL_REVISION=4a0d683eba9f1d0cbfb6151705d1ee73c25a80ca


# --- weights: download once, at a pinned revision, then swap in our processor -------------
FROM ${VLLM_IMAGE} AS weights
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ARG MODEL_ID
ARG MODEL_REVISION
ENV HF_HUB_DISABLE_TELEMETRY=1

# The token, when given, exists only as a file under /run/secrets during this one RUN: it is
# in no layer, no ARG and no ENV of any stage.
RUN --mount=type=secret,id=hf_token,required=false \
    if ! printf '%s' "${MODEL_REVISION}" | grep -Eqx '[0-9a-f]{40}'; then \
        echo "MODEL_REVISION must be a 40-character commit hash, got '${MODEL_REVISION}'" >&2; \
        exit 1; \
    fi; \
    if [ -s /run/secrets/hf_token ]; then \
        HF_TOKEN="$(cat /run/secrets/hf_token)"; export HF_TOKEN; \
    fi; \
    hf download "${MODEL_ID}" --revision "${MODEL_REVISION}" \
        --local-dir /model-cache/phi-3.5-vision-instruct \
    && test -f /model-cache/phi-3.5-vision-instruct/config.json

# Our processor replaces Microsoft's remote code (the reasons are in patch_checkpoint.py).
# Then prove, offline and at build time, that the image's transformers loads the result, and
# that our profile tooling reads it (`serve args` plans the KV cache from this config).
RUN --mount=type=bind,source=docker/patch_checkpoint.py,target=/tmp/build/patch_checkpoint.py \
    --mount=type=bind,source=serve,target=/tmp/build/serve \
    python3 /tmp/build/patch_checkpoint.py /model-cache/phi-3.5-vision-instruct \
        --code /tmp/build/serve/phi3v \
    && HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME=/tmp/hf python3 -c "import sys; \
        from transformers import AutoConfig, AutoProcessor; p = sys.argv[1]; \
        AutoConfig.from_pretrained(p, trust_remote_code=True); \
        print(type(AutoProcessor.from_pretrained(p, trust_remote_code=True)).__name__)" \
        /model-cache/phi-3.5-vision-instruct \
    && PYTHONPATH=/tmp/build python3 -m serve args --profile h100-80g \
        --model /model-cache/phi-3.5-vision-instruct \
    && rm -rf /tmp/hf \
    && chmod -R a+rX,go-w /model-cache


# --- runtime --------------------------------------------------------------------------------
FROM ${VLLM_IMAGE}
ARG MODEL_ID
ARG MODEL_REVISION
LABEL org.opencontainers.image.title="vision-stack vLLM: Phi-3.5-vision-instruct" \
      org.opencontainers.image.description="vLLM OpenAI server, weights baked in, started from a serve profile" \
      ai.vision-stack.model="${MODEL_ID}" \
      ai.vision-stack.model-revision="${MODEL_REVISION}"

# A fixed, high uid so that Kubernetes' runAsNonRoot can check it and volumes can be chowned.
RUN useradd --uid 10001 --user-group --create-home --no-log-init --shell /usr/sbin/nologin vision

# Our `serve` package, from source onto PYTHONPATH: it needs nothing the image lacks (pydantic,
# torch, transformers, vLLM), and no pip run means no fight with the image's system Python
# (PEP 668 on its Ubuntu 24.04 variants, our Requires-Python bound).
COPY serve /opt/vision-stack/serve
# Root-owned and read-only for the service user: the weights cannot be changed at run time.
COPY --from=weights /model-cache /model-cache

ENV HOME=/home/vision \
    PYTHONPATH=/opt/vision-stack \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    VLLM_NO_USAGE_STATS=1 \
    VLLM_DO_NOT_TRACK=1 \
    VLLM_PROFILE=h100-80g

USER 10001:10001
WORKDIR /home/vision
EXPOSE 8000

# Loading 8 GB of weights, profiling and capturing CUDA graphs takes minutes: failures during
# the start period do not count, and the first success marks the container healthy at once.
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# `serve run` turns the profile into vLLM's command line (see `python3 -m serve args
# --profile NAME`), waits for /health, and stops vLLM's process group cleanly on SIGTERM.
# exec: serve becomes PID 1 and receives the signals. Extra arguments (CMD, compose
# `command:`) go to `serve run`, e.g. --startup-timeout 900.
ENTRYPOINT ["/bin/sh", "-c", "exec python3 -m serve run --profile \"${VLLM_PROFILE:-h100-80g}\" --host 0.0.0.0 --port 8000 --model /model-cache/phi-3.5-vision-instruct \"$@\"", "serve"]
CMD []
