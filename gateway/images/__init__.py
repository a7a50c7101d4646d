"""The one gate every image passes before vLLM: checks, SSRF-safe fetching, data URLs.

validate.py   image_url → validated data URL (formats, bytes, pixels, digest for routing)
fetch.py      SSRF-safe http(s) fetch (DNS checked, pinned address, redirects re-checked)
parts.py      the images inside an OpenAI body (chat, Responses): count limit, rewrite in place
"""

from .fetch import METADATA_IPS, address_refusal, fetch_image, host_allowed, make_fetch_client
from .parts import ImagePart, check_image_count, rewrite_images
from .validate import (
    ALLOWED_FORMATS,
    CheckedImage,
    ValidImage,
    check_image_bytes,
    sniff_format,
    validate_image,
    validate_image_url,
)

__all__ = [
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
