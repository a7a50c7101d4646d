"""Phi-3-vision image processor for transformers 5, without torchvision.

Microsoft's remote-code processor needs torchvision, which the CPU stack cannot have, and it
targets transformers 4.x. This one reproduces its HD transform step by step (transpose tall
images, resize with Pillow's bilinear filter, pad height to whole 336-px tiles with white,
CLIP-normalise, a bicubic 336x336 global view, crops in row-major order, zero padding to
``num_crops + 1``), so image sizes, crops and token counts are the same.

The token count and the pixel layout both come from :func:`hd_layout` (``geometry.py``, shared
with the gateway's pre-sizing), so what vLLM reserves (``calc_num_image_tokens_from_image_size``)
always equals what the vision tower produces.
This file is copied verbatim into checkpoints and loaded through ``auto_map``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers.feature_extraction_utils import BatchFeature
from transformers.image_processing_utils import BaseImageProcessor
from transformers.processing_utils import ImagesKwargs

from .geometry import TILE, HDLayout, hd_layout, num_image_tokens

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "TILE",
    "HDLayout",
    "Phi3VImageProcessor",
    "hd_layout",
    "num_image_tokens",
]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _to_pil(image: Any) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
        if image.ndim == 3 and image.shape[0] in (1, 3, 4):  # CHW -> HWC
            image = np.transpose(image, (1, 2, 0))
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3):
            raise ValueError(f"expected an HxW or HxWxC array, got shape {image.shape}")
        if image.dtype != np.uint8:
            scale = 255.0 if image.size and float(np.max(image)) <= 1.0 else 1.0
            image = np.clip(image * scale, 0, 255).astype(np.uint8)
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        return Image.fromarray(image)
    raise TypeError(
        f"expected a PIL image, numpy array or torch tensor, got {type(image).__name__}"
    )


def _hd_transform(image: Image.Image, num_crops: int) -> tuple[Image.Image, HDLayout]:
    layout = hd_layout(image.width, image.height, num_crops)
    img = image.transpose(Image.Transpose.TRANSPOSE) if layout.transposed else image
    img = img.resize(layout.resized, Image.Resampling.BILINEAR)
    padded_h = math.ceil(layout.resized[1] / TILE) * TILE
    canvas = Image.new("RGB", (layout.resized[0], padded_h), (255, 255, 255))
    canvas.paste(img, (0, layout.pad_top))
    if layout.transposed:
        canvas = canvas.transpose(Image.Transpose.TRANSPOSE)
    return canvas, layout


class Phi3VImagesKwargs(ImagesKwargs, total=False):
    """Declares ``num_crops`` so transformers passes it through without complaint."""

    num_crops: int
    num_img_tokens: int


class Phi3VImageProcessor(BaseImageProcessor):
    """Turns images into ``pixel_values`` of shape [images, num_crops + 1, 3, 336, 336]."""

    model_input_names = ["pixel_values", "image_sizes"]
    valid_kwargs = Phi3VImagesKwargs

    def __init__(
        self,
        num_crops: int = 4,
        image_mean: tuple[float, float, float] | list[float] = CLIP_MEAN,
        image_std: tuple[float, float, float] | list[float] = CLIP_STD,
        do_convert_rgb: bool = True,
        num_img_tokens: int = 144,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_crops = int(num_crops)
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        self.do_convert_rgb = do_convert_rgb
        self.num_img_tokens = num_img_tokens

    def calc_num_image_tokens_from_image_size(
        self, width: int, height: int, num_crops: int | None = None
    ) -> int:
        return num_image_tokens(width, height, num_crops or self.num_crops)

    def calc_num_image_tokens(self, images: Any, num_crops: int | None = None) -> list[int]:
        return [
            self.calc_num_image_tokens_from_image_size(img.width, img.height, num_crops)
            for img in map(_to_pil, _as_list(images))
        ]

    def preprocess(
        self,
        images: Any,
        num_crops: int | None = None,
        return_tensors: str | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        crops = int(num_crops or self.num_crops)
        mean = torch.tensor(self.image_mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.tensor(self.image_std, dtype=torch.float32).view(3, 1, 1)
        pixel_values, sizes, tokens = [], [], []
        for raw in _as_list(images):
            pil = _to_pil(raw)
            if pil.width < 1 or pil.height < 1:
                raise ValueError(f"image has no pixels: {pil.width}x{pil.height}")
            padded, layout = _hd_transform(pil.convert("RGB"), crops)
            hd = torch.from_numpy(np.asarray(padded, dtype=np.uint8).copy())
            hd = hd.permute(2, 0, 1).float().div(255).sub(mean).div(std)
            glb = torch.nn.functional.interpolate(
                hd.unsqueeze(0), size=(TILE, TILE), mode="bicubic"
            )
            rows, cols = layout.rows, layout.cols
            tiles = (
                hd.reshape(1, 3, rows, TILE, cols, TILE)
                .permute(0, 2, 4, 1, 3, 5)
                .reshape(-1, 3, TILE, TILE)
            )
            stacked = torch.cat([glb, tiles], dim=0)
            if stacked.shape[0] < crops + 1:
                pad = torch.zeros(crops + 1 - stacked.shape[0], 3, TILE, TILE)
                stacked = torch.cat([stacked, pad], dim=0)
            pixel_values.append(stacked)
            sizes.append([layout.height, layout.width])
            tokens.append(layout.num_tokens)
        data = {
            "pixel_values": torch.stack(pixel_values, dim=0),
            "image_sizes": torch.tensor(sizes, dtype=torch.long),
            "num_img_tokens": tokens,
        }
        return BatchFeature(data=data, tensor_type=return_tensors)


def _as_list(images: Any) -> list[Any]:
    if images is None:
        raise ValueError("no images given")
    if isinstance(images, list | tuple):
        if not images:
            raise ValueError("no images given")
        return list(images)
    return [images]
