"""Our Phi-3-vision processor for transformers 5 (no torchvision, exact token counts).

The three modules here are also copied verbatim into model checkpoints and loaded through
``auto_map``; they import nothing from the rest of this project.
"""

from .configuration_phi3_v import Phi3VConfig
from .image_processing_phi3_v import HDLayout, Phi3VImageProcessor, hd_layout, num_image_tokens
from .processing_phi3_v import IMAGE_TAG, Phi3VProcessor

REMOTE_CODE_FILES = (
    "configuration_phi3_v.py",
    "image_processing_phi3_v.py",
    "processing_phi3_v.py",
)
"""Files a checkpoint needs beside its weights for ``auto_map`` to find our classes."""

__all__ = [
    "IMAGE_TAG",
    "REMOTE_CODE_FILES",
    "HDLayout",
    "Phi3VConfig",
    "Phi3VImageProcessor",
    "Phi3VProcessor",
    "hd_layout",
    "num_image_tokens",
]
