"""Phi-3-vision's HD-transform geometry, from an image's size alone (stdlib only).

The crop grid, the resized size and the image-token count depend on the width, the height and
``num_crops``, never on the pixels. Two places need them: the processor (which resizes and
counts) and the gateway (which pre-sizes images from their header, so that vLLM gets exactly
the pixels the model uses). Both import this module, so they cannot disagree. It imports
nothing but the standard library: the gateway's image has no torch and no transformers.

    >>> hd_layout(640, 480, 4).num_tokens
    757
    >>> target_size(4032, 3024, 4)           # a 12 MP phone photo at the default crops
    (672, 504)
    >>> target_size(2480, 3508, 16)          # an A4 scan at 300 dpi, tall: 3x4 tiles
    (950, 1344)

This file is copied verbatim into checkpoints beside the processor (``REMOTE_CODE_FILES``)
and imported relatively, as ``auto_map`` code must be.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MAX_NUM_CROPS", "TILE", "HDLayout", "hd_layout", "num_image_tokens", "target_size"]

TILE = 336
"""CLIP ViT-L/14-336 input size: every crop and the global view are this square."""

MAX_NUM_CROPS = 16
"""Largest num_crops the processor accepts (Phi-3.5-vision's OCR setting)."""

_NEAREST_ROWS = (0, -1, 1, -2, 2, -3, 3)
"""Heights tried around the processor's own, nearest first (see ``target_size``)."""


@dataclass(frozen=True)
class HDLayout:
    """Where one image lands in the HD transform, in the original (untransposed) frame."""

    transposed: bool
    """Tall images are transposed, resized and padded as if wide, then transposed back."""
    resized: tuple[int, int]
    """(width, height) after resizing, in the transposed frame when ``transposed``."""
    pad_top: int
    """White rows added above the resized image, in the transposed frame."""
    width: int
    """Padded width: a multiple of 336."""
    height: int
    """Padded height: a multiple of 336."""

    @property
    def rows(self) -> int:
        return self.height // TILE

    @property
    def cols(self) -> int:
        return self.width // TILE

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) after resizing, in the image's own frame (before padding)."""
        w, h = self.resized
        return (h, w) if self.transposed else (w, h)

    @property
    def num_tokens(self) -> int:
        """Image tokens: 144 per crop and for the global view, 12 newlines per tile row plus
        one for the global view, and one separator."""
        return (self.rows * self.cols + 1) * 144 + 1 + (self.rows + 1) * 12


def hd_layout(width: int, height: int, num_crops: int) -> HDLayout:
    """The crop grid for an image: the largest scale whose grid fits in ``num_crops`` tiles."""
    if width < 1 or height < 1:
        raise ValueError(f"image has no pixels: {width}x{height}")
    if not 1 <= num_crops <= MAX_NUM_CROPS:
        raise ValueError(f"num_crops must be between 1 and {MAX_NUM_CROPS}, got {num_crops}")
    transposed = width < height
    if transposed:
        width, height = height, width
    ratio = width / height
    scale = 1
    while scale * math.ceil(scale / ratio) <= num_crops:
        scale += 1
    scale -= 1
    new_w = int(scale * TILE)
    # Microsoft's code would produce a zero-height image past a 5376:1 aspect ratio and crash;
    # one pixel keeps such an image valid and its token count consistent with its pixels.
    new_h = max(1, int(new_w / ratio))
    padded_h = math.ceil(new_h / TILE) * TILE
    pad_top = int((padded_h - new_h) / 2)
    if transposed:
        return HDLayout(True, (new_w, new_h), pad_top, width=padded_h, height=new_w)
    return HDLayout(False, (new_w, new_h), pad_top, width=new_w, height=padded_h)


def num_image_tokens(width: int, height: int, num_crops: int) -> int:
    """Tokens vLLM must reserve for one image of this size."""
    return hd_layout(width, height, num_crops).num_tokens


def target_size(width: int, height: int, num_crops: int) -> tuple[int, int]:
    """The (width, height) to hand the processor instead of a ``width``×``height`` image.

    An image of this size has the same crop grid and token count as the original, and the
    processor keeps it as it is (its resize is a no-op), so whoever produces it (the gateway
    shrinking a photo, a PDF renderer choosing its scale) does the only resize. It is the
    processor's own resized size, except in ~6% of sizes where the processor, re-deriving
    the aspect ratio from an already-resized image, would round its height one row lower
    (``int(w / (w / h))`` is not always ``h`` in floating point); there the nearest height
    that is kept as is is returned instead, at most a row or two away (the grid never changes).

    Larger originals should be shrunk to this size; originals at or below it are best sent
    as they are (the processor enlarges them itself).
    """
    layout = hd_layout(width, height, num_crops)
    long_side, short_side = layout.resized
    for delta in _NEAREST_ROWS:
        rows = short_side + delta
        if rows < 1:
            continue
        size = (rows, long_side) if layout.transposed else (long_side, rows)
        again = hd_layout(size[0], size[1], num_crops)
        same_grid = (again.width, again.height) == (layout.width, layout.height)
        if again.size == size and same_grid and again.transposed == layout.transposed:
            return size
    return layout.size  # never reached for sizes up to 6000 px; the grid is right regardless
