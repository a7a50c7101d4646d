"""Async extraction jobs: ``Prefer: respond-async`` on the extraction routes, a document of
hundreds of pages read in page ranges in the background, durable on one machine or on
several replicas sharing a PostgreSQL key store.

store.py    JobStore: the one interface (jobs and their queue of units); rows
sqlite.py   SqliteJobStore: it in the key store's SQLite file (the embedded default)
pg_store.py PostgresJobStore: it in the PostgreSQL key database (several replicas)
submit.py   the extraction routes' async answer: checked, input stored, 202 + Location
runner.py   JobRunner: planning a document into ranges, one unit, the final merge
worker.py   JobWorker: the claim loop, retries, finishing, revoked keys, expiry, gauges
pg_worker.py QueuedJobWorker: units as procrastinate jobs on every replica (PostgreSQL)
events.py   job_ended: the hook the end of every job calls (webhooks hang here)
objects.py  the job object
service.py  JobService and the lifespan that opens it
routes.py   /v1/jobs

``docs/jobs.md`` describes the API, its limits and durability.

The package imports only its interface here: the extraction routes import ``submit`` and
the Batch API's runner imports the extraction routes, so ``routes`` and ``service`` are
imported by the app itself (``gateway.app``).
"""

from .events import job_ended
from .store import JobRow, JobStore, JobUnit, UnitPlan

__all__ = ["JobRow", "JobStore", "JobUnit", "UnitPlan", "job_ended"]
