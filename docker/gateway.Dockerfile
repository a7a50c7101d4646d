# syntax=docker/dockerfile:1.7
# The gateway: FastAPI + uvicorn and the base dependencies of pyproject.toml, nothing else
# (no torch, no vLLM). Build from the repository root:
#
#   docker build -f docker/gateway.Dockerfile -t vision-stack/gateway:dev .
#   docker run -p 8080:8080 -e GATEWAY_UPSTREAM_URL=http://vllm:8000 \
#       -v gateway-data:/data vision-stack/gateway:dev
#
# Base image pinned by tag (Python patch release and Debian release). To pin the bytes too:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm   # "Digest: sha256:…"
#   --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<that digest>
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm


# --- build: one wheel of our code (gateway + schemas + the HD-transform geometry) -------------
# The gateway pre-sizes images with the processor's own geometry: serve/phi3v/geometry.py and
# the two package files above it, all standard library (no torch, no transformers).
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml ./
COPY gateway gateway
COPY schemas schemas
COPY serve/__init__.py serve/__init__.py
COPY serve/phi3v/__init__.py serve/phi3v/geometry.py serve/phi3v/
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist .


# --- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Grounding's OCR: tesserocr's wheel bundles libtesseract; its English model is Debian's
# (Apache-2.0), at /usr/share/tesseract-ocr/5/tessdata where gateway/evidence/ocr.py reads it.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr-eng=1:4.1.0-2 \
    && rm -rf /var/lib/apt/lists/*

# The wheel's base dependencies only (exact pins from pyproject.toml); no extras.
RUN --mount=type=bind,from=build,source=/dist,target=/tmp/dist \
    python -m pip install --no-cache-dir /tmp/dist/vision_stack-*.whl

# A fixed, high uid (Kubernetes' runAsNonRoot checks it). /data holds the SQLite key store and
# belongs to that user, so a named volume mounted there starts with the right owner.
RUN useradd --uid 10001 --user-group --no-create-home --no-log-init --shell /usr/sbin/nologin gateway \
    && install -d -o 10001 -g 10001 -m 0750 /data

ENV GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_KEYS_DB=/data/gateway-keys.db \
    GATEWAY_UPSTREAM_URL=http://vllm:8000

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# slim has no curl; Python is there anyway. /health is liveness (no key needed); /ready also
# asks vLLM and is for dashboards, not for restarting the gateway.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]

ENTRYPOINT ["python", "-m", "gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
