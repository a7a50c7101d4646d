"""Session-wide fixtures: one real vLLM CPU engine on the tiny checkpoint, one PostgreSQL and
one Redis (Valkey) server, each started on first use and stopped at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")  # vLLM imports in tests must not pick AVX-512

from tests.support.engine import Engine, start_engine  # noqa: E402
from tests.support.pg import PostgresServer  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402


@pytest.fixture(scope="session")
def vllm_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The real engine, started once per session via ``python -m serve run --profile cpu-dev``
    and stopped by process group at the end."""
    engine = start_engine(tmp_path_factory.mktemp("engine"))
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def tiny_checkpoint() -> Path:
    """The tiny Phi3V checkpoint (built on demand; the engine serves the same folder)."""
    from serve.tiny import ensure_checkpoint
    from tests.support.engine import tiny_dir

    return ensure_checkpoint(tiny_dir())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL, started once per session on a free loopback port; tests take a
    fresh database from it (``fresh_database``) rather than restarting it."""
    server = PostgresServer.create()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Valkey/Redis, started once per session; tests flush it, never restart it."""
    server = RedisServer.create()
    try:
        yield server
    finally:
        server.destroy()
