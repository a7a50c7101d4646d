"""The pixel size a page is rendered at: what Phi-3.5-vision's HD transform will use.

The HD transform picks the largest ``scale`` whose grid of 336-px tiles (``scale`` wide,
``ceil(scale / ratio)`` high, the long side laid horizontally) fits in ``num_crops``, then
resizes the image to ``scale × 336`` on its long side. Rendering a page at exactly that size
gives the model every pixel it will use and nothing it would throw away.

Interim: the image-path work (issue 11) puts this geometry in one stdlib-only module shared
with the processor (``serve/phi3v/geometry.py``, ``target_size``); once that is on main this
module should import it instead of computing it here.

    >>> page_target_size(2480, 3508, 16)   # A4 at 300 dpi: 3×4 tiles, 1344 px tall
    (950, 1344)
    >>> page_target_size(3508, 2480, 4)    # landscape A4 at 4 crops
    (672, 475)
"""

from __future__ import annotations

import math

__all__ = ["TILE", "page_target_size"]

TILE = 336
"""CLIP ViT-L/14-336's input square: the unit of Phi-3-vision's crop grid."""


def page_target_size(width: int, height: int, num_crops: int) -> tuple[int, int]:
    """(width, height) the HD transform resizes a ``width × height`` image to."""
    long_side, short_side = max(width, height), min(width, height)
    ratio = long_side / short_side
    scale = 1
    while (scale + 1) * math.ceil((scale + 1) / ratio) <= num_crops:
        scale += 1
    new_long = scale * TILE
    new_short = max(1, round(new_long / ratio))
    return (new_long, new_short) if width >= height else (new_short, new_long)
