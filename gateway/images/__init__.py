"""The one gate every image passes before vLLM: checks, SSRF-safe fetching, data URLs.

validate.py   image_url → validated, pre-sized data URL (formats, bytes, pixels, digest)
presize.py    header → target size (serve.phi3v.geometry) → draft decode + exact resize
crops.py      num_crops for a request: mm_processor_kwargs, detail, the default
decodes.py    DecodeSlots: at most N images decode at once per worker (bounded memory)
fetch.py      SSRF-safe http(s) fetch (DNS checked, pinned address, redirects re-checked)
parts.py      the images inside an OpenAI body (chat, Responses): count limit, rewrite in place
"""

from .crops import Crops, Detail, image_detail, request_num_crops
from .decodes import DecodeSlots, default_decode_concurrency
from .fetch import METADATA_IPS, address_refusal, fetch_image, host_allowed, make_fetch_client
from .parts import ImagePart, check_image_count, rewrite_images
from .presize import PreparedImage, TooManyPixels, presize_image
from .validate import (
    ALLOWED_FORMATS,
    CheckedImage,
    ValidImage,
    check_image_bytes,
    prepare_image_bytes,
    prepare_upload,
    sniff_format,
    validate_image,
    validate_image_url,
)

__all__ = [
    "Crops",
    "Detail",
    "image_detail",
    "request_num_crops",
    "DecodeSlots",
    "default_decode_concurrency",
    "PreparedImage",
    "TooManyPixels",
    "presize_image",
    "prepare_image_bytes",
    "prepare_upload",
    "METADATA_IPS",
    "address_refusal",
    "fetch_image",
    "host_allowed",
    "make_fetch_client",
    "ImagePart",
    "check_image_count",
    "rewrite_images",
    "ALLOWED_FORMATS",
    "CheckedImage",
    "ValidImage",
    "check_image_bytes",
    "sniff_format",
    "validate_image",
    "validate_image_url",
]
