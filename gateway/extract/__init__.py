"""The extraction API: an image in, a validated, typed object out.

routes.py    /v1/schemas, /v1/extract/{name}, /v1/extract
inputs.py    reading JSON or multipart requests and the image
service.py   one extraction: the request to vLLM, the answer validated into the model
prompt.py    the cache-friendly prompt layout
models.py    the wire models (ExtractRequest, ExtractResponse[T], ...)
"""

from .routes import router

__all__ = ["router"]
