"""Fixtures for the many-replica tests: key stores of both kinds, a clean Redis, the stub
upstream, and the async backend (asyncio, through anyio's pytest plugin)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from itertools import count
from pathlib import Path

import pytest

from gateway.auth.postgres import PostgresKeys
from gateway.auth.store import KeyBackend, open_key_store
from tests.support.gateway_server import Proc, start_stub
from tests.support.pg import PostgresServer
from tests.support.redis_server import RedisServer

_DATABASES = count()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def keys_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a key store lives: a SQLite file, or a fresh database on the session's
    PostgreSQL (``request.param`` is ``sqlite`` or ``postgres``)."""
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return server.fresh_database(f"keys_{next(_DATABASES)}")
    return str(tmp_path / "keys.db")


@pytest.fixture
async def key_store(keys_target: str) -> AsyncIterator[KeyBackend]:
    store = open_key_store(keys_target)
    await store.migrate()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """The stub upstream (fixed answers, ``stub-hold`` to keep requests in flight)."""
    proc = start_stub(tmp_path_factory.mktemp("stub"))
    yield proc
    proc.stop()


@pytest.fixture
def clean_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The session's Redis, emptied before the test."""
    redis_server.flush()
    yield redis_server


BOTH_STORES = pytest.mark.parametrize("keys_target", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
async def db(postgres_server: PostgresServer) -> AsyncIterator[tuple[str, PostgresKeys]]:
    """A fresh database with every migration applied, its key store open: where the
    PostgreSQL stores of batches, jobs and webhooks are tested."""
    url = postgres_server.fresh_database(f"store_{next(_DATABASES)}")
    keys = PostgresKeys(url)
    await keys.open()
    await keys.migrate()
    try:
        yield url, keys
    finally:
        await keys.close()
