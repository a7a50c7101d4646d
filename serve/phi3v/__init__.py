"""Our Phi-3-vision processor for transformers 5 (no torchvision, exact token counts).

The modules here are also copied verbatim into model checkpoints and loaded through
``auto_map``; they import nothing from the rest of this project.

``geometry`` (the HD-transform sizes and token counts) needs only the standard library, and
the gateway imports it without torch or transformers installed. So this package imports the
processor classes lazily, on first use of their names:

    from serve.phi3v.geometry import target_size      # stdlib only
    from serve.phi3v import Phi3VProcessor             # imports torch and transformers
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .geometry import HDLayout, hd_layout, num_image_tokens, target_size

if TYPE_CHECKING:
    from .configuration_phi3_v import Phi3VConfig
    from .image_processing_phi3_v import Phi3VImageProcessor
    from .processing_phi3_v import IMAGE_TAG, Phi3VProcessor

REMOTE_CODE_FILES = (
    "configuration_phi3_v.py",
    "geometry.py",
    "image_processing_phi3_v.py",
    "processing_phi3_v.py",
)
"""Files a checkpoint needs beside its weights for ``auto_map`` to find our classes."""

_LAZY = {
    "Phi3VConfig": ".configuration_phi3_v",
    "Phi3VImageProcessor": ".image_processing_phi3_v",
    "IMAGE_TAG": ".processing_phi3_v",
    "Phi3VProcessor": ".processing_phi3_v",
}

__all__ = [
    "IMAGE_TAG",
    "REMOTE_CODE_FILES",
    "HDLayout",
    "Phi3VConfig",
    "Phi3VImageProcessor",
    "Phi3VProcessor",
    "hd_layout",
    "num_image_tokens",
    "target_size",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
