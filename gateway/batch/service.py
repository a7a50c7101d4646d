"""``BatchService``: what the routes and the lifespan hold of the Batch API in one app.

Built in the lifespan (``open_batch_service``) from the settings. A SQLite key store: the
SQLite store in the key store's file, the file folder, and the claim loop as a task. A
PostgreSQL key store (several replicas, ``docs/replicas.md``): ``PostgresBatchStore`` and
``PostgresBlobs`` in the key database (its tables come with the key store's migrations), and
``QueuedBatchWorker``, whose lines procrastinate dispatches to any replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..auth.store import is_postgres_url
from ..settings import Settings
from ..upstream import BackgroundUpstream, Upstream
from .blobs import FileBlobs, LocalBlobs
from .lines import LineRunner
from .pg_blobs import PostgresBlobs
from .pg_store import PostgresBatchStore
from .pg_worker import QueuedBatchWorker
from .sqlite import SqliteBatchStore
from .store import BatchStore
from .worker import BatchWorker

__all__ = ["BatchService", "files_dir", "open_batch_service"]


@dataclass
class BatchService:
    store: BatchStore
    blobs: FileBlobs
    worker: BatchWorker
    background: Upstream | None = None
    """The ``BackgroundUpstream`` of this app: extraction jobs share its cap."""


def files_dir(settings: Settings) -> Path:
    """``GATEWAY_FILES_DIR``, or ``gateway-files`` beside the SQLite key store."""
    if settings.files_dir is not None:
        return settings.files_dir
    return Path(settings.keys_db).resolve().parent / "gateway-files"


@asynccontextmanager
async def open_batch_service(app_state: Any, upstream: Upstream) -> AsyncIterator[None]:
    """Open the store and start the worker for the app's lifetime."""
    settings: Settings = app_state.settings
    background = BackgroundUpstream(upstream, settings)
    runner = LineRunner(
        settings,
        background,
        app_state.auth.limiter,
        app_state.render_pool,
        app_state.decode_slots,
        app_state.fetch_client,
        app_state.schema_registry,
        getattr(app_state, "ocr_pool", None),
    )
    capacity = settings.background_max_in_flight * len(upstream.replicas)
    store: BatchStore
    blobs: FileBlobs
    worker: BatchWorker
    if is_postgres_url(settings.keys_db):
        pg = PostgresBatchStore(
            str(settings.keys_db),
            pool_size=settings.keys_db_pool_size,
            timeout_s=max(settings.keys_db_timeout_s, 5.0),
        )
        await pg.open()
        store, blobs = pg, PostgresBlobs(pg.pool)
        worker = QueuedBatchWorker(pg, blobs, runner, settings, app_state.metrics, capacity)
    else:
        store = SqliteBatchStore(settings.keys_db)
        blobs = LocalBlobs(files_dir(settings))
        worker = BatchWorker(store, blobs, runner, settings, app_state.metrics, capacity)
    app_state.batch = BatchService(store, blobs, worker, background)
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()
