"""`DocumentError`: a refusal of a document, raised in the render worker or the gateway.

It is a `GatewayError` (status, message, ``param``, ``code``) that survives pickling, so a
refusal found inside the render worker process reaches the client exactly as if the gateway
had found it itself. Caps answer 413 and name the setting that sets them; a document that
cannot be read (encrypted, corrupt, truncated, no pages) answers 400 naming the problem.

    raise DocumentError(400, "the PDF is encrypted", param="image", code="document_encrypted")
"""

from __future__ import annotations

from typing import Any

from ..errors import GatewayError

__all__ = ["DocumentError"]


class DocumentError(GatewayError):
    """A document the gateway will not render; ``code`` starts with ``document_``."""

    def __init__(self, status: int, message: str, *, param: str | None, code: str) -> None:
        super().__init__(status, message, param=param, code=code)

    def __reduce__(self) -> tuple[Any, ...]:
        """Exceptions pickle their ``args``; this one needs its keywords back too."""
        return (_rebuild, (self.status, self.message, self.param, self.code))


def _rebuild(status: int, message: str, param: str | None, code: str | None) -> DocumentError:
    return DocumentError(status, message, param=param, code=code or "document_error")
