"""Documents: PDFs and multi-page TIFFs become page images for the extraction API (and
thumbnails for its preview route).

    detect.document_kind(data)          "pdf" | "tiff" | None, from magic bytes
    pages.PageSelection.parse("1-3,5")  the ``pages`` field; resolve(count) checks the range
    render.render_document(job)         pages at the model's target size, as PNGs (in a worker),
                                        or as JPEG thumbnails for a preview
    pool.RenderPool(workers)            bounded, killable worker processes for rendering
    errors.DocumentError                every refusal: status, ``param``, ``code``
    errors.DocumentNotImage             a document where an image was expected (chat's 400)

Rendering never runs on the event loop nor in a gateway thread: PDFium is not thread-safe,
and only a process can be stopped when a hostile document hangs it.
"""

from .detect import MIME_TYPES, DocumentKind, document_kind
from .errors import DocumentError, DocumentNotImage
from .pages import PageSelection
from .pool import RenderPool
from .render import (
    DocumentLimits,
    RenderedDocument,
    RenderedPage,
    RenderJob,
    TargetSize,
    render_document,
)

__all__ = [
    "MIME_TYPES",
    "DocumentError",
    "DocumentKind",
    "DocumentLimits",
    "DocumentNotImage",
    "PageSelection",
    "RenderJob",
    "RenderPool",
    "RenderedDocument",
    "RenderedPage",
    "TargetSize",
    "document_kind",
    "render_document",
]
