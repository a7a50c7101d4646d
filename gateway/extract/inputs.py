"""Reading an extraction request: JSON or multipart, the typed fields, the checked image.

A JSON body carries ``image_url`` (a data URL or an http(s) URL fetched SSRF-safe); a
multipart body carries the image as a file part named ``image`` and the other fields as form
fields. Either way the image passes the same checks as a chat image, is pre-sized for the
crops the request will use, and comes back as a data URL with the digest that routes it to a
replica.

    req, image = await read_extract_request(request, ExtractRequest, crops_for)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from schemas import SchemaSpec, UnknownSchemaError, get

from .. import caps
from ..bodies import parse_json_object, read_body
from ..errors import ErrorCode, GatewayError
from ..images import ValidImage, prepare_upload, validate_image
from ..settings import Settings
from .models import ExtractRequest

__all__ = ["lookup_schema", "read_extract_request"]

R = TypeVar("R", bound=ExtractRequest)


def lookup_schema(name: str, param: str | None = None) -> SchemaSpec[Any]:
    """The registered schema ``name``; 404 ``unknown_schema`` listing the known ones."""
    try:
        return get(name)
    except UnknownSchemaError as exc:
        raise GatewayError(404, str(exc), param=param, code=ErrorCode.UNKNOWN_SCHEMA) from None


async def read_extract_request(
    request: Request, model: type[R], crops_for: Callable[[R], int]
) -> tuple[R, ValidImage]:
    """The validated request and the checked image (data URL and digest for routing),
    pre-sized for ``crops_for(request)`` crops."""
    state = request.app.state
    settings: Settings = state.settings
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        fields, upload = await _read_form(request, settings)
    else:
        fields, upload = parse_json_object(await read_body(request, settings.max_body_bytes)), None
    if upload is not None:
        fields.setdefault("image_url", "upload")
    try:
        parsed = model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [dict(e, loc=("body", *e["loc"])) for e in exc.errors(include_url=False)]
        ) from None
    # The caps a chat request obeys, checked before any image work.
    caps.check_num_crops(parsed.num_crops, settings, "num_crops")
    caps.check_max_tokens(parsed.max_tokens, settings, "max_tokens")
    num_crops, slots = crops_for(parsed), state.decode_slots
    if upload is not None:
        image = await prepare_upload(
            upload, settings, param="image", num_crops=num_crops, slots=slots
        )
        return parsed, image
    valid = await validate_image(
        parsed.image_url,
        settings,
        state.fetch_client,
        param="image_url",
        num_crops=num_crops,
        slots=slots,
    )
    return parsed, valid


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
    data = await upload.read(settings.max_image_bytes + 1)
    fields: dict[str, Any] = {
        k: v for k, v in form.multi_items() if isinstance(v, str) and k != "schemas"
    }
    listed = [v for v in form.getlist("schemas") if isinstance(v, str)]
    if listed:
        fields["schemas"] = [n.strip() for v in listed for n in v.split(",") if n.strip()]
    return fields, data
