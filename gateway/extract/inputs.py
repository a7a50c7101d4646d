"""Reading an extraction request: JSON or multipart, the typed fields, the checked input.

A JSON body carries ``image_url`` (a data URL or an http(s) URL fetched SSRF-safe) or
``image_urls`` (several images, read as pages); a multipart body carries the file as a part
named ``image`` and the other fields as form fields. An image passes the same checks as a chat
image, is pre-sized for the crops the request will use, and comes back as a data URL with the
digest that routes it to a replica; a PDF or TIFF (told by its bytes) comes back as a
`DocumentInput` for ``pages.load_pages`` to render.

    req, source = await read_extract_request(request, ExtractRequest, crops_for)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from schemas import SchemaSpec, UnknownSchemaError, get

from .. import caps
from ..bodies import parse_json_object, read_body
from ..documents import DocumentKind, DocumentNotImage
from ..errors import ErrorCode, GatewayError
from ..images import ValidImage, prepare_upload, validate_image
from ..settings import Settings
from .models import ExtractRequest

__all__ = [
    "DocumentInput",
    "Source",
    "lookup_schema",
    "parse_fields",
    "read_extract_request",
    "read_fields",
    "read_single",
    "request_body_doc",
]

R = TypeVar("R", bound=ExtractRequest)
M = TypeVar("M", bound=BaseModel)


def lookup_schema(name: str, param: str | None = None) -> SchemaSpec[Any]:
    """The registered schema ``name``; 404 ``unknown_schema`` listing the known ones."""
    try:
        return get(name)
    except UnknownSchemaError as exc:
        raise GatewayError(404, str(exc), param=param, code=ErrorCode.UNKNOWN_SCHEMA) from None


@dataclass(frozen=True)
class DocumentInput:
    """A PDF or TIFF as received; rendered into pages later."""

    data: bytes
    kind: DocumentKind
    param: str
    """The field it came in: ``image`` (upload) or ``image_url``."""


Source = ValidImage | list[ValidImage] | DocumentInput
"""One image, several images (``image_urls``), or a document."""


async def read_fields(request: Request, settings: Settings) -> tuple[dict[str, Any], bytes | None]:
    """The body's fields, and the uploaded file's bytes (multipart; None for a JSON body).
    An upload stands in for ``image_url``, so the models' one-source checks see it."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        fields, upload = await _read_form(request, settings)
        fields.setdefault("image_url", "upload")
        return fields, upload
    return parse_json_object(await read_body(request, settings.max_body_bytes)), None


def parse_fields(model: type[M], fields: dict[str, Any]) -> M:
    """``fields`` as ``model``; a failure is the gateway's 400 naming the field."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [dict(e, loc=("body", *e["loc"])) for e in exc.errors(include_url=False)]
        ) from None


async def read_single(
    request: Request, url: str | None, upload: bytes | None, num_crops: int
) -> ValidImage | DocumentInput:
    """The one image or document of a request: the upload if there is one, else ``url``.
    An image is checked and pre-sized for ``num_crops``; a PDF or TIFF is returned unread."""
    state = request.app.state
    settings: Settings = state.settings
    try:
        if upload is not None:
            return await prepare_upload(
                upload, settings, param="image", num_crops=num_crops, slots=state.decode_slots
            )
        assert url is not None  # the request models insist on a source
        return await validate_image(
            url,
            settings,
            state.fetch_client,
            param="image_url",
            num_crops=num_crops,
            slots=state.decode_slots,
            max_bytes=_read_cap(settings),
        )
    except DocumentNotImage as document:
        return DocumentInput(document.data, document.kind, document.param or "image")


async def read_extract_request(
    request: Request, model: type[R], crops_for: Callable[[R], int]
) -> tuple[R, Source]:
    """The validated request and its checked input (data URLs and digests for routing),
    images pre-sized for ``crops_for(request)`` crops."""
    state = request.app.state
    settings: Settings = state.settings
    fields, upload = await read_fields(request, settings)
    _check_one_source(fields)
    parsed = parse_fields(model, fields)
    # The caps a chat request obeys, checked before any image work.
    caps.check_num_crops(parsed.num_crops, settings, "num_crops")
    caps.check_max_tokens(parsed.max_tokens, settings, "max_tokens")
    num_crops = crops_for(parsed)
    if parsed.image_urls is not None:
        if len(parsed.image_urls) > settings.max_images_per_request:
            raise GatewayError(
                422,
                f"too many images: {len(parsed.image_urls)} in image_urls, at most "
                f"{settings.max_images_per_request} allowed (GATEWAY_MAX_IMAGES_PER_REQUEST)",
                param=f"image_urls[{settings.max_images_per_request}]",
                code=ErrorCode.TOO_MANY_IMAGES,
            )
        images = await asyncio.gather(
            *(
                validate_image(
                    url,
                    settings,
                    state.fetch_client,
                    param=f"image_urls[{i}]",
                    num_crops=num_crops,
                    slots=state.decode_slots,
                )
                for i, url in enumerate(parsed.image_urls)
            )
        )
        return parsed, list(images)
    return parsed, await read_single(request, parsed.image_url, upload, num_crops)


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


def _read_cap(settings: Settings) -> int:
    """Bytes read before the format is known: an image's cap or a document's, the larger."""
    return max(settings.max_image_bytes, settings.document_max_bytes)


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
    data = await upload.read(_read_cap(settings) + 1)
    fields: dict[str, Any] = {
        k: v for k, v in form.multi_items() if isinstance(v, str) and k != "schemas"
    }
    listed = [v for v in form.getlist("schemas") if isinstance(v, str)]
    if listed:
        fields["schemas"] = [n.strip() for v in listed for n in v.split(",") if n.strip()]
    return fields, data
