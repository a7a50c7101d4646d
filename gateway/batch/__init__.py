"""The OpenAI Files and Batch API: durable on one machine (SQLite, a claim loop of ours), or
across replicas on PostgreSQL (procrastinate dispatching lines to every replica).

store.py      BatchStore: the one interface (files, batches, the queue of lines); rows
sqlite.py     SqliteBatchStore: it in the key store's SQLite file (the embedded default)
blobs.py      FileBlobs / LocalBlobs: file bytes in a folder, whole or absent
upload.py     POST /v1/files' multipart body parsed as it streams to storage
validate.py   an input file's JSONL lines checked (OpenAI's validation errors)
endpoints.py  the endpoints a batch may run and the scope each needs
lines.py      one line run through its route's own body step, at background priority
worker.py     BatchWorker: the claim loop, retries, expiry, finishing, file expiry
pg_store.py   PostgresBatchStore: the same interface in the PostgreSQL key database
pg_queue.py   its queue half: validation, line jobs deferred with the lines, a batch's end
pg_base.py    its connection pool and shared SQL
pg_blobs.py   PostgresBlobs: file bytes as chunked rows, streamed
pg_worker.py  QueuedBatchWorker: procrastinate line jobs on every replica, stalled-job retry
pg_dispatch.py units run as procrastinate jobs: deferral SQL, worker, recovery (lines, jobs)
service.py    BatchService and the lifespan that opens it
objects.py    OpenAI's File and Batch objects
routes.py     /v1/files and /v1/batches

``docs/batch.md`` describes the API, its limits and durability, and how several replicas
share the work.
"""

from .routes import router
from .service import BatchService, open_batch_service
from .store import BatchRow, BatchStore, FileRow, InputLine, Unit

__all__ = [
    "BatchRow",
    "BatchService",
    "BatchStore",
    "FileRow",
    "InputLine",
    "Unit",
    "open_batch_service",
    "router",
]
