"""``JobService``: what the routes and the lifespan hold of async extraction jobs.

Opened in the lifespan after the Batch API's service, whose file bytes (``FileBlobs``: a
job's stored input, ``user_data`` uploads) and ``BackgroundUpstream`` (one cap on background
calls for batch lines and job pages alike) it shares. The store lives in the key store's
database: ``SqliteJobStore`` in the SQLite file, ``PostgresJobStore`` in the PostgreSQL one
(its units dispatched to any replica by procrastinate, ``pg_worker.QueuedJobWorker``;
``docs/jobs.md``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ..auth.store import is_postgres_url
from ..settings import Settings
from .pg_store import PostgresJobStore
from .pg_worker import QueuedJobWorker
from .runner import JobRunner
from .sqlite import SqliteJobStore
from .store import JobStore
from .worker import JobWorker

__all__ = ["JobService", "open_job_service"]


@dataclass
class JobService:
    store: JobStore
    runner: JobRunner
    worker: JobWorker


@asynccontextmanager
async def open_job_service(app_state: Any) -> AsyncIterator[None]:
    """Open the store and start the claim loop for the app's lifetime (with a batch store)."""
    settings: Settings = app_state.settings
    batch = getattr(app_state, "batch", None)
    if batch is None:
        app_state.jobs = None
        yield
        return
    store: JobStore
    if is_postgres_url(settings.keys_db):
        pg = PostgresJobStore(
            str(settings.keys_db),
            pool_size=settings.keys_db_pool_size,
            timeout_s=max(settings.keys_db_timeout_s, 5.0),
        )
        await pg.open()
        store = pg
    else:
        store = SqliteJobStore(settings.keys_db)
    runner = JobRunner(
        settings,
        batch.background,
        app_state.auth.limiter,
        app_state.render_pool,
        app_state.decode_slots,
        app_state.fetch_client,
        app_state.schema_registry,
        batch.blobs,
    )
    capacity = settings.background_max_in_flight * len(app_state.upstream.replicas)
    worker = (
        QueuedJobWorker(store, runner, settings, app_state.metrics, capacity, app_state)
        if isinstance(store, PostgresJobStore)
        else JobWorker(store, runner, settings, app_state.metrics, capacity, app_state)
    )
    app_state.jobs = JobService(store, runner, worker)
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()
