"""Document refusals: `DocumentError`, and `DocumentNotImage` for a document sent as an image.

`DocumentError` is a `GatewayError` (status, message, ``param``, ``code``) that survives
pickling, so a refusal found inside the render worker process reaches the client exactly as
if the gateway had found it itself. Caps answer 413 and name the setting that sets them; a
document that cannot be read (encrypted, corrupt, truncated, no pages) answers 400 naming the
problem.

`DocumentNotImage` is what the image check raises when the bytes are a PDF or TIFF: for chat
it is the 400 that points to the extraction API; the extraction API catches it and renders
the document it carries.

    raise DocumentError(400, "the PDF is encrypted", param="image",
                        code=ErrorCode.DOCUMENT_ENCRYPTED)
"""

from __future__ import annotations

from typing import Any

from ..errors import ErrorCode, GatewayError
from .detect import DocumentKind

__all__ = ["DocumentError", "DocumentNotImage"]


class DocumentError(GatewayError):
    """A document the gateway will not render; its ``code`` starts with ``document_``."""

    def __init__(self, status: int, message: str, *, param: str | None, code: ErrorCode) -> None:
        super().__init__(status, message, param=param, code=code)

    def __reduce__(self) -> tuple[Any, ...]:
        """Exceptions pickle their ``args``; this one needs its keywords back too."""
        return (_rebuild, (self.status, self.message, self.param, str(self.code)))


def _rebuild(status: int, message: str, param: str | None, code: str) -> DocumentError:
    return DocumentError(status, message, param=param, code=ErrorCode(code))


class DocumentNotImage(GatewayError):
    """The bytes given as an image are a document; chat takes images only."""

    def __init__(self, data: bytes, kind: DocumentKind, *, param: str) -> None:
        super().__init__(
            400,
            f"this is a {kind.upper()} document, not an image; chat takes images only. Send "
            f"documents to the extraction API: POST /v1/extract/{{schema}} (for example "
            f"/v1/extract/invoice) with the document as image_url or as an 'image' upload",
            param=param,
            code=ErrorCode.DOCUMENT_NEEDS_EXTRACTION,
        )
        self.data = data
        self.kind = kind
