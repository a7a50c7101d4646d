"""The one gate every image passes before vLLM: checks, SSRF-safe fetching, data URLs.

validate.py   image_url → validated data URL (formats, bytes, pixels, digest for routing)
fetch.py      SSRF-safe http(s) fetch (DNS checked, pinned address, redirects re-checked)
"""

from .fetch import METADATA_IPS, address_refusal, fetch_image, host_allowed, make_fetch_client
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
    "ALLOWED_FORMATS",
    "CheckedImage",
    "ValidImage",
    "check_image_bytes",
    "sniff_format",
    "validate_image",
    "validate_image_url",
]
