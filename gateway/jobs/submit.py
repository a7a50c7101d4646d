"""``Prefer: respond-async`` on the extraction routes: the request checked as the synchronous
call checks it, its input stored, a job queued, ``202`` with ``Location: /v1/jobs/{id}``.

The extraction routes call ``submit_job`` with their own request model and ``crops_for``
(the schema lookup and crop count of the synchronous call), so a request the synchronous
call refuses for its fields is refused here the same way, at once. The input is loaded by
the pipeline's input stage under the job's caps (``GATEWAY_JOB_MAX_DOCUMENT_BYTES``), or
named by ``file_id`` (a ``purpose=user_data`` upload, read later in ranges); a document is
stored as it came, never rendered here. Problems with the document itself (corrupt,
encrypted, too many pages) fail the job with the synchronous error, as the worker finds them.

``Idempotency-Key``: a repeated submission of the same key with the same header returns the
first job (``200``, same ``id``); the same header with a different body is a ``409
idempotency_key_reused``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request
from starlette.responses import JSONResponse

from schemas import SchemaSpec

from ..auth import KeyRecord
from ..documents import document_kind
from ..errors import ErrorCode, GatewayError
from ..extract.context import context_of
from ..extract.inputs import parse_extract_fields, read_fields
from ..images import ValidImage
from ..pipeline import DocumentInput, load_source, read_cap
from ..pipeline.models import ExtractRequest
from ..webhooks import accept_webhook_url
from .caps import page_settings
from .objects import job_object
from .store import JobRow, UnitPlan, new_job_id

if TYPE_CHECKING:
    from ..batch.service import BatchService
    from .service import JobService

__all__ = ["USER_DATA", "jobs_service", "prefers_async", "submit_job"]

R = TypeVar("R", bound=ExtractRequest)

USER_DATA = "user_data"
"""The ``purpose`` of a ``/v1/files`` upload a job may name by ``file_id``."""
IDEMPOTENCY_KEY_MAX = 255


def prefers_async(request: Request) -> bool:
    """``Prefer: respond-async`` (RFC 7240), among other preferences or alone."""
    prefer = request.headers.get("prefer", "")
    return any(p.split(";")[0].strip().lower() == "respond-async" for p in prefer.split(","))


def jobs_service(request: Request) -> JobService:
    service = getattr(request.app.state, "jobs", None)
    if service is None:
        raise GatewayError(
            501,
            "async extraction jobs are not running in this gateway process",
            code=ErrorCode.BATCH_UNAVAILABLE,
        )
    job_service: JobService = service
    return job_service


def _bad(message: str, param: str) -> GatewayError:
    return GatewayError(400, message, param=param, code=ErrorCode.INVALID_VALUE)


def _answer(job: JobRow, status: int) -> JSONResponse:
    return JSONResponse(job_object(job), status, headers={"location": f"/v1/jobs/{job.id}"})


def _replay(first: JobRow, fingerprint: str) -> JSONResponse:
    if first.fingerprint != fingerprint:
        raise GatewayError(
            409,
            "this Idempotency-Key was used for a different request; send a new key",
            param="Idempotency-Key",
            code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
        )
    return _answer(first, 200)


def _fingerprint(path: str, fields: dict[str, Any], upload: bytes | None) -> str:
    digest = hashlib.sha256(path.encode())
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
    digest.update(upload or b"")
    return digest.hexdigest()


def _webhook(fields: dict[str, Any]) -> str | None:
    url = fields.pop("webhook_url", None)
    if url is None:
        return None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2048:
        raise _bad("webhook_url must be an http(s) URL of at most 2048 characters", "webhook_url")
    return url


async def submit_job(
    request: Request,
    key: KeyRecord,
    model: type[R],
    crops_for: Callable[[R], int | Awaitable[int]],
    specs_of: Callable[[R], list[SchemaSpec[Any]]],
) -> JSONResponse:
    """Queue the request as a job (see the module docstring): 202, or 200 for a replay."""
    service = jobs_service(request)
    batch: BatchService = request.app.state.batch
    settings = request.app.state.settings
    job_settings = page_settings(settings)
    fields, upload = await read_fields(request, job_settings)
    fingerprint = _fingerprint(request.url.path, fields, upload)
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX:
            raise _bad("Idempotency-Key must have 1 to 255 characters", "Idempotency-Key")
        first = await service.store.find_idempotent(key.prefix, idempotency_key)
        if first is not None:
            return _replay(first, fingerprint)
    webhook_url = await accept_webhook_url(request.app.state, key.prefix, _webhook(fields))
    file_id = fields.pop("file_id", None)
    if file_id is not None:
        if not isinstance(file_id, str):
            raise _bad("file_id must be the id of a purpose=user_data upload", "file_id")
        if fields.get("image_url") is not None or fields.get("image_urls") is not None:
            raise _bad("send file_id or image_url (or an upload) or image_urls, not two", "file_id")
        fields["image_url"] = "file_id"  # the source is named: the one-source check passes
    ctx = replace(context_of(request), settings=job_settings)
    req, num_crops = await parse_extract_fields(ctx, model, fields, crops_for)
    specs = specs_of(req)
    job_id = new_job_id()
    source: dict[str, Any]
    if file_id is not None:
        row = await batch.store.get_file(key.prefix, file_id)
        if row is None:
            raise GatewayError(
                404, f"no file with id {file_id!r}", param="file_id", code=ErrorCode.NOT_FOUND
            )
        if row.purpose != USER_DATA:
            why = f"file_id: the file's purpose is {row.purpose!r}, not 'user_data'"
            raise _bad(why, "file_id")
        head = await anext(batch.blobs.read(file_id), b"")
        kind = document_kind(head)
        if kind is not None:
            source = {"kind": "document", "blob": file_id, "doc_kind": kind,
                      "param": "file_id", "owned": False}  # fmt: skip
            loaded = None
        else:
            upload = b""
            async for chunk in batch.blobs.read(file_id):
                upload += chunk
                if len(upload) > read_cap(job_settings):
                    break
            loaded = await load_source(
                ctx, image_url=None, image_urls=None, upload=upload, num_crops=num_crops
            )
    else:
        loaded = await load_source(
            ctx,
            image_url=None if upload is not None else req.image_url,
            image_urls=req.image_urls,
            upload=upload,
            num_crops=num_crops,
        )
    count = 1
    if loaded is not None:
        blob = f"jobin-{job_id.removeprefix('job_')}-{secrets.token_hex(4)}"
        if isinstance(loaded, DocumentInput):
            data = loaded.data
            source = {"kind": "document", "blob": blob, "doc_kind": loaded.kind,
                      "param": loaded.param, "owned": True}  # fmt: skip
        else:
            images = [loaded] if isinstance(loaded, ValidImage) else loaded
            count = len(images)
            data = json.dumps(
                [[i.url, (i.digest or b"").hex(), i.presized] for i in images]
            ).encode()
            source = {"kind": "images", "blob": blob, "single": isinstance(loaded, ValidImage),
                      "owned": True}  # fmt: skip

        async def chunks() -> Any:
            yield data

        await batch.blobs.save(blob, chunks(), limit=1 << 62)
    pages = source["kind"] == "document" and all(s.pages == "each" for s in specs)
    now = time.time()
    stored = req.model_copy(update={"image_url": "stored", "image_urls": None})
    job = JobRow(
        id=job_id,
        owner=key.prefix,
        key_name=key.name,
        specs=[(s.name, s.version) for s in specs],
        multi=len(specs) > 1 or "schemas" in type(req).model_fields,
        request=stored.model_dump_json(),
        num_crops=num_crops,
        source=source,
        mode="pages" if pages else "whole",
        fingerprint=fingerprint,
        status="queued",
        created_at=now,
        expires_at=now + settings.files_ttl_s,
        webhook_url=webhook_url,
        idempotency_key=idempotency_key,
        planned=not pages,
        pages_total=0 if pages else count,
    )
    units = [] if pages else [UnitPlan("", count)]
    first = await service.store.create_job(job, units)
    if first.id != job.id:  # the same Idempotency-Key won a race meanwhile
        if source.get("owned"):
            await batch.blobs.delete(source["blob"])
        return _replay(first, fingerprint)
    service.worker.poke()
    return _answer(first, 202)
