"""``POST /v1/documents/preview``: a document's pages as thumbnails, before anything is read.

A person choosing pages of a 40-page PDF wants to see them; a browser cannot draw a PDF or a
TIFF into an ``<img>``, and shipping a PDF renderer in JavaScript to every client would be a
second renderer that can disagree with the one the model's pages come from. So the gateway
renders the previews itself: the same worker pool, the same caps and refusals as extraction
(encrypted, truncated, too many pages or pixels, too slow), only smaller and as JPEG. The
playground uses it for its page thumbnails; any client may.

With no ``pages`` a longer document is not refused: the first ``GATEWAY_DOCUMENT_MAX_PAGES``
pages are shown and ``page_count`` says how many there are. No model is asked: a preview
costs a render, not tokens.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from serve.phi3v.geometry import target_size

from ..auth import ExtractKey
from ..documents import PageSelection, RenderJob, RenderPool
from ..errors import ErrorCode, GatewayError
from ..openapi import KEYED, error_responses
from ..pipeline import DocumentInput, load_single
from ..pipeline.document import document_limits
from ..pipeline.models import DocumentPreview, PagePreview, PreviewRequest
from ..settings import Settings
from .context import context_of
from .inputs import parse_fields, read_fields, request_body_doc

__all__ = ["router"]

router = APIRouter(tags=["extraction"], responses=error_responses(*KEYED))


@router.post(
    "/v1/documents/preview",
    response_model=DocumentPreview,
    summary="Thumbnails of a PDF's or TIFF's pages",
    openapi_extra=request_body_doc(PreviewRequest),
    responses=error_responses(400, 413),  # a bad field or document; a cap (no model: no 5xx)
)
async def preview_document(request: Request, key: ExtractKey) -> DocumentPreview:
    settings: Settings = request.app.state.settings
    fields, upload = await read_fields(request, settings)
    req = parse_fields(PreviewRequest, fields)
    selection = PageSelection.parse(req.pages)  # a typo is a 400 before the file is read
    url = None if upload is not None else req.image_url
    source = await load_single(context_of(request), url, upload, settings.default_num_crops)
    if not isinstance(source, DocumentInput):
        param = "image" if upload is not None else "image_url"
        raise GatewayError(
            400,
            f"{param} is an image; previews show the pages of a PDF or TIFF document",
            param=param,
            code=ErrorCode.INVALID_VALUE,
        )
    pool: RenderPool = request.app.state.render_pool
    job = RenderJob(
        source.data, source.kind, selection, settings.default_num_crops, target_size,
        document_limits(settings), source.param, thumbnail=req.max_side,
    )  # fmt: skip
    document = await pool.render(job)
    return DocumentPreview(
        kind=document.kind,
        page_count=document.page_count,
        pages=[
            PagePreview(
                page=page.number,
                width=page.width,
                height=page.height,
                image_url=page.data_url(),
            )
            for page in document.pages
        ],
    )
