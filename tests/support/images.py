"""Re-exports ``harness.images``: it moved to a package that ships, so that the benchmarks
can use it; tests keep importing it from here."""

from harness.images import (
    data_url,
    image_bytes,
    make_image,
)

__all__ = [
    "data_url",
    "image_bytes",
    "make_image",
]
