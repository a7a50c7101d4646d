"""Reading an extraction request: JSON or multipart, the typed fields, the checked input.

A JSON body carries ``image_url`` (a data URL or an http(s) URL fetched SSRF-safe) or
``image_urls`` (several images, read as pages); a multipart body carries the file as a part
named ``image`` and the other fields as form fields. The input itself is loaded by the
pipeline's input stage (`gateway.pipeline.load_source`), which every caller shares.

    req, source = await read_extract_request(request, ExtractRequest, crops_for)
    req, source = await load_extract_fields(ctx, ExtractRequest, body, None, crops_for)  # batch
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from .. import caps
from ..bodies import parse_json_body, read_body
from ..errors import ErrorCode, GatewayError
from ..pipeline import Context, Source, load_source, read_cap
from ..pipeline.models import ExtractRequest
from ..settings import Settings
from .context import context_of

__all__ = [
    "load_extract_fields",
    "parse_extract_fields",
    "parse_fields",
    "read_extract_request",
    "read_fields",
    "request_body_doc",
]

R = TypeVar("R", bound=ExtractRequest)
M = TypeVar("M", bound=BaseModel)


async def read_fields(request: Request, settings: Settings) -> tuple[dict[str, Any], bytes | None]:
    """The body's fields, and the uploaded file's bytes (multipart; None for a JSON body).
    An upload stands in for ``image_url``, so the models' one-source checks see it."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        fields, upload = await _read_form(request, settings)
        fields.setdefault("image_url", "upload")
        return fields, upload
    raw = await read_body(request, settings.max_body_bytes)
    return await parse_json_body(raw, settings.json_steps_threshold_bytes), None


def parse_fields(model: type[M], fields: dict[str, Any]) -> M:
    """``fields`` as ``model``; a failure is the gateway's 400 naming the field."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [dict(e, loc=("body", *e["loc"])) for e in exc.errors(include_url=False)]
        ) from None


async def read_extract_request(
    request: Request, model: type[R], crops_for: Callable[[R], int | Awaitable[int]]
) -> tuple[R, Source]:
    """The validated request and its checked input (`gateway.pipeline.load_source`: data
    URLs and digests for routing), images pre-sized for ``crops_for(request)`` crops (an
    async ``crops_for`` may look the request's schemas up first)."""
    settings: Settings = request.app.state.settings
    fields, upload = await read_fields(request, settings)
    return await load_extract_fields(context_of(request), model, fields, upload, crops_for)


async def load_extract_fields(
    ctx: Context,
    model: type[R],
    fields: dict[str, Any],
    upload: bytes | None,
    crops_for: Callable[[R], int | Awaitable[int]],
) -> tuple[R, Source]:
    """An extraction body's fields (a JSON body, a form, a batch line's ``body``) as the
    typed request and its checked input: the one step the route and batch lines share."""
    parsed, num_crops = await parse_extract_fields(ctx, model, fields, crops_for)
    image_url = None if upload is not None else parsed.image_url
    source = await load_source(
        ctx,
        image_url=image_url,
        image_urls=parsed.image_urls,
        upload=upload,
        num_crops=num_crops,
    )
    return parsed, source


async def parse_extract_fields(
    ctx: Context,
    model: type[R],
    fields: dict[str, Any],
    crops_for: Callable[[R], int | Awaitable[int]],
) -> tuple[R, int]:
    """The typed request and its crop count, every check but the input's own (an async
    job loads its input itself: a document it stores, a ``file_id``)."""
    settings = ctx.settings
    _check_one_source(fields)
    parsed = parse_fields(model, fields)
    # The caps a chat request obeys, checked before any image work.
    caps.check_num_crops(parsed.num_crops, settings, "num_crops")
    caps.check_max_tokens(parsed.max_tokens, settings, "max_tokens")
    crops = crops_for(parsed)
    num_crops = await crops if inspect.isawaitable(crops) else crops
    return parsed, num_crops


def request_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads with `read_fields`: ``model`` as JSON,
    or its fields as a form with the file as the ``image`` part instead of ``image_url``."""
    schema = model.model_json_schema()
    fields = {k: v for k, v in schema["properties"].items() if k != "image_url"}
    form = {
        "type": "object",
        "required": ["image"],
        "properties": {"image": {"type": "string", "format": "binary"}, **fields},
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "multipart/form-data": {"schema": form},
            },
        }
    }


def _check_one_source(fields: dict[str, Any]) -> None:
    """Exactly one of ``image_url`` (or an upload) and ``image_urls``, named in the 400."""
    has_one, has_many = fields.get("image_url") is not None, fields.get("image_urls") is not None
    if has_one and has_many:
        message = "send image_url (or an 'image' upload) or image_urls, not both"
        raise GatewayError(400, message, param="image_urls", code=ErrorCode.INVALID_VALUE)
    if not (has_one or has_many):
        message = "image_url is required: an image or document URL (or an 'image' upload)"
        raise GatewayError(400, message, param="image_url", code=ErrorCode.INVALID_VALUE)


async def _read_form(request: Request, settings: Settings) -> tuple[dict[str, Any], bytes]:
    form = await request.form(max_files=1, max_fields=32, max_part_size=settings.max_body_bytes)
    upload = form.get("image")
    if not isinstance(upload, UploadFile):
        raise GatewayError(
            400,
            "multipart requests need the image as a file part named 'image'",
            param="image",
            code=ErrorCode.IMAGE_MISSING,
        )
    data = await upload.read(read_cap(settings) + 1)
    fields: dict[str, Any] = {
        k: v for k, v in form.multi_items() if isinstance(v, str) and k != "schemas"
    }
    listed = [v for v in form.getlist("schemas") if isinstance(v, str)]
    if listed:
        fields["schemas"] = [n.strip() for v in listed for n in v.split(",") if n.strip()]
    return fields, data
