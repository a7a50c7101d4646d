"""The jobs routes: a key's async extraction jobs (submitted with ``Prefer: respond-async``
on ``POST /v1/extract/{schema}`` and ``POST /v1/extract``, `submit.py`).

    GET  /v1/jobs                the key's jobs, newest first (after, limit, has_more)
    GET  /v1/jobs/{id}           one job: status, progress, and its result or error
    POST /v1/jobs/{id}/cancel    stop it: queued pages are not read

Scope ``extract``. A key sees only its own jobs: another key's is a 404, as if it did not
exist.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from ..auth import ExtractKey
from ..errors import ErrorCode, GatewayError
from ..listing import check_limit, list_page
from ..openapi import KEYED, error_responses
from .caps import error_of
from .objects import job_object
from .submit import jobs_service

__all__ = ["router"]

router = APIRouter(tags=["jobs"], responses=error_responses(*KEYED, 404, 501))

CANCELLED = error_of(GatewayError(409, "the job was cancelled", code=ErrorCode.JOB_CANCELLED))


def _missing(job_id: str) -> GatewayError:
    return GatewayError(404, f"no job with id {job_id!r}", code=ErrorCode.NOT_FOUND)


@router.get(
    "/v1/jobs",
    summary="The calling key's extraction jobs, newest first",
    responses=error_responses(400),
)
async def list_jobs(
    request: Request, key: ExtractKey, after: str | None = None, limit: int = 20
) -> dict[str, Any]:
    check_limit(limit, 100)
    rows, has_more = await jobs_service(request).store.list_jobs(key.prefix, after, limit)
    return list_page([job_object(r) for r in rows], has_more)


@router.get("/v1/jobs/{job_id}", summary="One extraction job")
async def get_job(request: Request, key: ExtractKey, job_id: str) -> dict[str, Any]:
    row = await jobs_service(request).store.get_job(key.prefix, job_id)
    if row is None:
        raise _missing(job_id)
    return job_object(row)


@router.post("/v1/jobs/{job_id}/cancel", summary="Cancel an extraction job")
async def cancel_job(request: Request, key: ExtractKey, job_id: str) -> dict[str, Any]:
    service = jobs_service(request)
    row, ended = await service.store.cancel_job(key.prefix, job_id, CANCELLED, time.time())
    if row is None:
        raise _missing(job_id)
    if ended:
        await service.worker.ended(row)
        if row.source.get("owned"):
            await service.runner.blobs.delete(row.source["blob"])
    return job_object(row)
