"""The OpenAI Files and Batch API routes, for the ``openai`` SDK unchanged.

    POST   /v1/files                 multipart: purpose=batch (file=<JSONL>) or user_data (a
                                     document for an extraction job); streamed to storage
    GET    /v1/files                 the key's files, newest first (after, limit, has_more)
    GET    /v1/files/{id}            one of them
    GET    /v1/files/{id}/content    its bytes
    DELETE /v1/files/{id}            removed at once, for good
    POST   /v1/batches               {input_file_id, endpoint, completion_window, metadata,
                                      webhook_url}
    GET    /v1/batches               the key's batches, newest first (after, limit, has_more)
    GET    /v1/batches/{id}          one of them
    POST   /v1/batches/{id}/cancel   stop it: unfinished lines go to the error file

Every route takes a valid key (any scope); creating a batch needs the scope of its endpoint
(``chat`` for chat and Responses, ``extract`` for extraction). A key sees only what it owns:
another key's file or batch is a 404, as if it did not exist.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import StreamingResponse

from ..auth import KeyRecord, require_scope
from ..auth.admission import Authenticator
from ..errors import ErrorCode, GatewayError
from ..listing import check_limit, list_page
from ..openapi import KEYED, error_responses
from ..webhooks import accept_webhook_url
from .blobs import BlobTooLarge
from .endpoints import resolve_endpoint
from .objects import batch_object, file_object
from .service import BatchService
from .store import BatchRow, FileRow, new_id
from .upload import UploadForm

__all__ = ["router"]

router = APIRouter(tags=["batch"], responses=error_responses(*KEYED, 404, 501))

PURPOSES = ("batch", "user_data")
"""``batch``: a JSONL batch input; ``user_data``: a document an extraction job names by
``file_id`` (``docs/jobs.md``)."""
FILES_PAGE_MAX = 10_000
"""OpenAI's largest ``limit`` of ``GET /v1/files`` (and its default)."""


def _file_cap(settings: Any, purpose: str | None) -> tuple[int, str]:
    """The byte cap of an upload of ``purpose`` and the setting that sets it."""
    if purpose == "user_data":
        return settings.job_max_document_bytes, "GATEWAY_JOB_MAX_DOCUMENT_BYTES"
    return settings.batch_max_file_bytes, "GATEWAY_BATCH_MAX_FILE_BYTES"


class BatchCreate(BaseModel):
    """``client.batches.create(...)``."""

    model_config = ConfigDict(extra="ignore")

    input_file_id: str
    endpoint: str
    completion_window: str = "24h"
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    webhook_url: str | None = None
    """``extra_body={"webhook_url": …}``: where the batch's end is announced (a signed
    ``batch.completed`` / ``failed`` / ``cancelled`` / ``expired`` event; docs/webhooks.md)."""


def _service(request: Request) -> BatchService:
    service = getattr(request.app.state, "batch", None)
    if service is None:
        raise GatewayError(
            501,
            "the Files and Batch API is not running in this gateway process",
            code=ErrorCode.BATCH_UNAVAILABLE,
        )
    assert isinstance(service, BatchService)
    return service


def _missing(kind: str, ident: str) -> GatewayError:
    return GatewayError(404, f"no {kind} with id {ident!r}", code=ErrorCode.NOT_FOUND)


AnyKey = Annotated[KeyRecord, Depends(require_scope(None))]
"""A valid key of any scope, declared in the OpenAPI document as the bearer key."""


@router.post(
    "/v1/files",
    summary="Upload a file (purpose=batch: a JSONL batch input; user_data: a job's document)",
    responses=error_responses(400, 413),
)
async def upload_file(request: Request, key: AnyKey) -> dict[str, Any]:
    service = _service(request)
    settings = request.app.state.settings
    form = UploadForm(request.headers.get("content-type", ""))
    file_id = new_id("file-")
    # The purpose may come after the file part: stream under the larger cap, then hold the
    # file to its own purpose's.
    most = max(_file_cap(settings, p)[0] for p in PURPOSES)
    try:
        size = await service.blobs.save(file_id, form.file_chunks(request.stream()), most)
    except BlobTooLarge:
        size = most + 1
    purpose = form.fields.get("purpose")
    cap, setting = _file_cap(settings, purpose)
    if size > cap:
        await service.blobs.delete(file_id)
        raise GatewayError(
            413,
            f"the file is larger than {cap} bytes ({setting})",
            param="file",
            code=ErrorCode.FILE_TOO_LARGE,
        )
    problem = None
    if form.file_parts != 1:
        problem = GatewayError(
            400, "send the file as a part named 'file'", param="file", code=ErrorCode.INVALID_VALUE
        )
    elif purpose not in PURPOSES:
        problem = GatewayError(
            400,
            f"purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}",
            param="purpose",
            code=ErrorCode.INVALID_VALUE,
        )
    if problem is not None:
        await service.blobs.delete(file_id)
        raise problem
    now = time.time()
    row = FileRow(
        file_id,
        key.prefix,
        str(purpose),
        form.filename or "upload.jsonl",
        size,
        now,
        now + settings.files_ttl_s,
    )
    await service.store.add_file(row)
    return file_object(row)


@router.get(
    "/v1/files",
    summary="The calling key's files, newest first",
    responses=error_responses(400),
)
async def list_files(
    request: Request,
    key: AnyKey,
    purpose: str | None = None,
    after: str | None = None,
    limit: int = FILES_PAGE_MAX,
) -> dict[str, Any]:
    """OpenAI's list: ``after`` (a file id), ``limit`` (1–10,000, default 10,000),
    ``has_more``; the SDK's ``files.list()`` pages through it by itself."""
    check_limit(limit, FILES_PAGE_MAX)
    rows, has_more = await _service(request).store.list_files(key.prefix, purpose, after, limit)
    return list_page([file_object(r) for r in rows], has_more)


async def _own_file(request: Request, key: KeyRecord, file_id: str) -> tuple[BatchService, FileRow]:
    service = _service(request)
    row = await service.store.get_file(key.prefix, file_id)
    if row is None:
        raise _missing("file", file_id)
    return service, row


@router.get("/v1/files/{file_id}", summary="One file's object")
async def get_file(request: Request, key: AnyKey, file_id: str) -> dict[str, Any]:
    _, row = await _own_file(request, key, file_id)
    return file_object(row)


@router.get("/v1/files/{file_id}/content", summary="One file's bytes")
async def file_content(request: Request, key: AnyKey, file_id: str) -> StreamingResponse:
    service, row = await _own_file(request, key, file_id)
    try:
        chunks = service.blobs.read(row.id)
        first = await anext(chunks, b"")
    except FileNotFoundError:
        raise _missing("file", file_id) from None

    async def body() -> Any:
        yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={"content-length": str(row.bytes)},
    )


@router.delete("/v1/files/{file_id}", summary="Delete a file at once, for good")
async def delete_file(request: Request, key: AnyKey, file_id: str) -> dict[str, Any]:
    service = _service(request)
    row = await service.store.delete_file(key.prefix, file_id)
    if row is None:
        raise _missing("file", file_id)
    await service.blobs.delete(row.id)
    return {"id": row.id, "object": "file", "deleted": True}


@router.post(
    "/v1/batches",
    summary="Create a batch from an uploaded JSONL file",
    responses=error_responses(400, 404),  # 404: the endpoint's schema, or the input file
)
async def create_batch(request: Request, key: AnyKey, body: BatchCreate) -> dict[str, Any]:
    service = _service(request)
    settings = request.app.state.settings
    scope, version = await resolve_endpoint(body.endpoint, request.app.state.schema_registry)
    Authenticator.authorize(key, scope)
    if body.completion_window != "24h":
        raise GatewayError(
            400,
            'completion_window must be "24h"',
            param="completion_window",
            code=ErrorCode.INVALID_VALUE,
        )
    webhook_url = await accept_webhook_url(request.app.state, key.prefix, body.webhook_url)
    source = await service.store.get_file(key.prefix, body.input_file_id)
    if source is None:
        raise _missing("file", body.input_file_id)
    if source.purpose != "batch":
        raise GatewayError(
            400,
            f"input_file_id: the file's purpose is {source.purpose!r}, not 'batch'",
            param="input_file_id",
            code=ErrorCode.INVALID_VALUE,
        )
    now = time.time()
    row = BatchRow(
        id=new_id("batch_"),
        owner=key.prefix,
        key_name=key.name,
        endpoint=body.endpoint,
        input_file_id=body.input_file_id,
        completion_window=body.completion_window,
        status="validating",
        created_at=now,
        expires_at=now + settings.batch_window_s,
        metadata=body.metadata,
        schema_version=version,
        webhook_url=webhook_url,
    )
    await service.store.create_batch(row)
    service.worker.poke()
    return batch_object(row)


@router.get(
    "/v1/batches",
    summary="The calling key's batches, newest first",
    responses=error_responses(400),
)
async def list_batches(
    request: Request, key: AnyKey, after: str | None = None, limit: int = 20
) -> dict[str, Any]:
    check_limit(limit, 100)
    rows, has_more = await _service(request).store.list_batches(key.prefix, after, limit)
    return list_page([batch_object(r) for r in rows], has_more)


@router.get("/v1/batches/{batch_id}", summary="One batch")
async def get_batch(request: Request, key: AnyKey, batch_id: str) -> dict[str, Any]:
    row = await _service(request).store.get_batch(key.prefix, batch_id)
    if row is None:
        raise _missing("batch", batch_id)
    return batch_object(row)


@router.post("/v1/batches/{batch_id}/cancel", summary="Cancel a batch")
async def cancel_batch(request: Request, key: AnyKey, batch_id: str) -> dict[str, Any]:
    service = _service(request)
    row = await service.store.cancel_batch(key.prefix, batch_id, time.time())
    if row is None:
        raise _missing("batch", batch_id)
    service.worker.poke()
    return batch_object(row)
