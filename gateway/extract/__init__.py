"""The extraction API's HTTP surface: read the request, call the pipeline, answer.

routes.py         /v1/schemas, /v1/extract/{name}, /v1/extract
object_checks.py  /v1/verify/{name}: a schema's checks on the caller's own object
preview.py        /v1/documents/preview: a PDF's or TIFF's pages as thumbnails
inputs.py         reading JSON or multipart requests into typed fields
context.py        the pipeline's Context for a request

The work itself is `gateway.pipeline` (input, pages, ask, answer, merge) and
`gateway.trust` (confidence, checks, review, repair); batch workers and the Cog predictor
call the same pipeline without HTTP.
"""

from .object_checks import router as object_checks_router
from .preview import router as preview_router
from .routes import router

__all__ = ["object_checks_router", "preview_router", "router"]
