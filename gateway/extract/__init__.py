"""The extraction API: an image in, a validated, typed object out.

routes.py      /v1/schemas, /v1/extract/{name}, /v1/extract
verify.py      /v1/verify/{name}: a schema's checks on the caller's own object
preview.py     /v1/documents/preview: a PDF's or TIFF's pages as thumbnails
inputs.py      reading JSON or multipart requests, the image, the schema name
service.py     one extraction: the request to vLLM, the answer validated into the model
repair.py      the trust stage: verify a reading, and (opt-in) read once more
verdict.py     confidence + checks -> review; the repair note; the better of two readings
confidence.py  per-field confidence from the engine's token logprobs
prompt.py      the cache-friendly prompt layout
models.py      the wire models (ExtractRequest, ExtractResponse[T], ...)
"""

from .preview import router as preview_router
from .routes import router
from .verify import router as verify_router

__all__ = ["preview_router", "router", "verify_router"]
