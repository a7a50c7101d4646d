"""How many tokens an image costs Phi-3.5-vision, from its grid of 336-px crops.

The HD transform resizes an image (keeping its aspect ratio) onto an h×w grid of 336-px
crops with ``h × w ≤ num_crops``, adds one 336×336 global view, merges CLIP's 24×24 patches
2×2 into 12×12 = 144 tokens per crop, and adds a newline token per row of 12 plus one
separator. Only the grid matters, so the worst case over all images is a maximum over grids.

>>> image_tokens(2, 2)  # a 640×480 image at num_crops 4
757
>>> worst_case_grid(16), worst_case_image_tokens(16)
((16, 1), 2653)
"""

from __future__ import annotations

from serve.errors import ProfileError

__all__ = ["CROP_TOKENS", "image_tokens", "worst_case_grid", "worst_case_image_tokens"]

CROP_TOKENS = 144
"""Tokens per 336-px crop after Phi-3-vision's 2×2 merge of CLIP's 24×24 patches."""


def image_tokens(h_crops: int, w_crops: int) -> int:
    """Phi-3-vision tokens for an h×w grid of crops: crops + global view, separator, newlines."""
    return (h_crops * w_crops + 1) * CROP_TOKENS + 1 + (h_crops + 1) * 12


def worst_case_grid(num_crops: int) -> tuple[int, int]:
    """The (h, w) grid with ``h × w ≤ num_crops`` that costs the most tokens.

    Newline tokens grow with rows, so a tall 16×1 strip (2,653) beats 4×4 (2,509) and a wide
    1×16 strip (2,473). vLLM profiles the same worst case with an 8000×50 image
    (``get_image_size_with_most_features`` in ``vllm/model_executor/models/phi3v.py``).
    """
    if num_crops < 1:
        raise ProfileError(f"num_crops must be at least 1, not {num_crops}")
    grids = [(h, w) for h in range(1, num_crops + 1) for w in range(1, num_crops // h + 1)]
    return max(grids, key=lambda g: image_tokens(*g))


def worst_case_image_tokens(num_crops: int) -> int:
    """Most tokens one image can cost at ``num_crops`` (2,653 at 16, 781 at 4, 313 at 1)."""
    return image_tokens(*worst_case_grid(num_crops))
