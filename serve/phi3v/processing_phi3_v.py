"""Phi-3-vision HF processor for transformers 5: text + images -> model inputs.

vLLM's Phi3V support calls this processor for pixel values and asks it for ``img_tokens``
and ``calc_num_image_tokens_from_image_size``. Text is split at ``<|image_N|>`` tags and
each chunk is tokenized with its own BOS, as Microsoft's processor does; vLLM reproduces that
layout, so prompt token counts agree. This file is copied verbatim into checkpoints and
loaded through ``auto_map``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin

from .image_processing_phi3_v import Phi3VImageProcessor

__all__ = ["IMAGE_TAG", "Phi3VProcessor"]

IMAGE_TAG = re.compile(r"<\|image_(\d+)\|>")
"""How prompts refer to images: ``<|image_1|>`` is the first image, and so on."""


class _ImageTags(Sequence[str]):
    """``img_tokens[i]`` is the tag of image ``i + 1``; computed on demand instead of the
    million-string list Microsoft's processor builds."""

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(f"image index {index} out of range")
        return f"<|image_{index + 1}|>"

    def __len__(self) -> int:
        return 1_000_000


class Phi3VProcessor(ProcessorMixin):
    """Pairs the Phi-3 tokenizer with :class:`Phi3VImageProcessor`."""

    def __init__(
        self,
        image_processor: Phi3VImageProcessor | None = None,
        tokenizer: Any = None,
        num_crops: int | None = None,
        **kwargs: Any,
    ) -> None:
        if image_processor is None:
            image_processor = Phi3VImageProcessor()
        if num_crops is not None:
            # vLLM builds one processor per distinct mm_processor_kwargs, so a per-request
            # num_crops arrives here and must govern both token counts and pixels.
            image_processor.num_crops = int(num_crops)
        super().__init__(image_processor, tokenizer, **kwargs)
        self.img_tokens = _ImageTags()

    @property
    def num_crops(self) -> int:
        return int(self.image_processor.num_crops)

    def calc_num_image_tokens_from_image_size(self, width: int, height: int) -> int:
        return int(self.image_processor.calc_num_image_tokens_from_image_size(width, height))

    def calc_num_image_tokens(self, images: Any) -> list[int]:
        return list(self.image_processor.calc_num_image_tokens(images))

    def __call__(
        self,
        text: str | list[str] | None = None,
        images: Any = None,
        return_tensors: str | None = "pt",
        num_crops: int | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        if isinstance(text, list):
            if len(text) != 1:
                raise ValueError("Phi3VProcessor handles one prompt at a time")
            text = text[0]
        text = text or ""
        if images is None or (isinstance(images, list | tuple) and not images):
            encoded = self.tokenizer(text, return_tensors=return_tensors)
            return BatchFeature(data=dict(encoded))
        image_inputs = self.image_processor(images, num_crops=num_crops, return_tensors="pt")
        return self._merge(text, image_inputs, return_tensors)

    def _merge(
        self, text: str, image_inputs: BatchFeature, return_tensors: str | None
    ) -> BatchFeature:
        tags = [int(n) for n in IMAGE_TAG.findall(text)]
        count = int(image_inputs["pixel_values"].shape[0])
        if sorted(set(tags)) != list(range(1, count + 1)):
            raise ValueError(
                f"the prompt refers to images {sorted(set(tags))} but {count} image(s) were given; "
                "use <|image_1|> .. <|image_N|>"
            )
        tokens = [int(t) for t in image_inputs["num_img_tokens"]]
        chunks = [self.tokenizer(chunk).input_ids for chunk in IMAGE_TAG.split(text)[::2]]
        ids: list[int] = []
        for i, chunk in enumerate(chunks):
            ids.extend(chunk)
            if i < len(tags):
                # Negative ids mark image positions, as in Microsoft's processor.
                ids.extend([-tags[i]] * tokens[tags[i] - 1])
        input_ids = torch.tensor([ids], dtype=torch.long)
        data = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "pixel_values": image_inputs["pixel_values"],
            "image_sizes": image_inputs["image_sizes"],
        }
        return BatchFeature(data=data, tensor_type=return_tensors)

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "pixel_values", "image_sizes"]
