"""Config class for Phi-3-vision checkpoints on transformers 5.

transformers 5 ships no ``phi3_v`` config, and Microsoft's remote code targets transformers
4.x. vLLM only needs a config object that carries the Phi-3 language-model fields plus the
vision fields (``img_processor``, ``embd_layer``), so a thin subclass of ``Phi3Config`` is
enough. This file is copied verbatim into checkpoints and loaded through ``auto_map``, so it
imports nothing from this project.
"""

from __future__ import annotations

from typing import Any

from transformers.models.phi3.configuration_phi3 import Phi3Config

__all__ = ["Phi3VConfig"]


class Phi3VConfig(Phi3Config):
    """Phi3Config plus the vision-tower description vLLM's Phi3VForCausalLM reads."""

    model_type = "phi3_v"

    def __init__(
        self,
        img_processor: dict[str, Any] | None = None,
        embd_layer: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.img_processor = img_processor or {
            "image_dim_out": 1024,
            "model_name": "openai/clip-vit-large-patch14-336",
            "name": "clip_vision_model",
            "num_img_tokens": 144,
        }
        self.embd_layer = embd_layer or {
            "embedding_cls": "image",
            "hd_transform_order": "sub_glb",
            "projection_cls": "mlp",
            "use_hd_transform": True,
            "with_learnable_separator": True,
        }
        super().__init__(**kwargs)
