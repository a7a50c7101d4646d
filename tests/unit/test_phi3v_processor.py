"""Our Phi-3-vision processor against Microsoft's layout: token counts, shapes, pixels, errors."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from PIL import Image

from serve.phi3v import Phi3VImageProcessor, hd_layout, num_image_tokens
from serve.phi3v.image_processing_phi3_v import CLIP_MEAN, CLIP_STD


def reference_tokens(width: int, height: int, hd_num: int) -> int | None:
    """Microsoft's calc_num_image_tokens_from_image_size, transcribed as the test oracle."""
    transposed = width < height
    if transposed:
        width, height = height, width
    ratio = width / height
    scale = 1
    while scale * math.ceil(scale / ratio) <= hd_num:
        scale += 1
    scale -= 1
    new_w = int(scale * 336)
    new_h = int(new_w / ratio)
    if new_h == 0:
        return None  # Microsoft's code cannot process such an image at all
    padded_h = math.ceil(new_h / 336) * 336
    w, h = (padded_h, new_w) if transposed else (new_w, padded_h)
    return int((h // 336 * w // 336 + 1) * 144 + 1 + (h // 336 + 1) * 12)


def formula(rows: int, cols: int) -> int:
    return (rows * cols + 1) * 144 + 1 + (rows + 1) * 12


def sizes() -> list[tuple[int, int]]:
    rng = random.Random(1234)
    picked = [(rng.randint(1, 4000), rng.randint(1, 4000)) for _ in range(300)]
    picked += [(rng.randint(1, 64), rng.randint(1, 64)) for _ in range(50)]  # tiny images
    extremes = [(1, 1), (2, 1), (1, 2), (16, 1), (1, 16), (5376, 336), (336, 5376)]
    extremes += [(1600, 100), (100, 1600), (8000, 50), (50, 8000), (336, 336), (337, 336)]
    return picked + extremes


@pytest.mark.parametrize("num_crops", [1, 4, 16])
def test_token_count_matches_formula_and_reference(num_crops: int) -> None:
    for width, height in sizes():
        layout = hd_layout(width, height, num_crops)
        assert layout.rows * layout.cols <= num_crops, (width, height)
        assert layout.width % 336 == 0 and layout.height % 336 == 0
        count = num_image_tokens(width, height, num_crops)
        assert count == formula(layout.rows, layout.cols), (width, height)
        reference = reference_tokens(width, height, num_crops)
        if reference is not None:
            assert count == reference, (width, height)


def test_known_counts_from_vllm_and_facts() -> None:
    assert num_image_tokens(640, 480, 4) == 757
    assert num_image_tokens(1024, 768, 16) == 1921
    assert num_image_tokens(300, 1200, 4) == 781  # a 4x1 grid
    assert num_image_tokens(50, 8000, 16) == formula(16, 1)  # vLLM's worst-case probe image


@pytest.mark.parametrize(
    ("size", "num_crops"), [((640, 480), 4), ((300, 1200), 4), ((1024, 768), 16), ((3, 2), 1)]
)
def test_pixel_values_shape_and_image_sizes_agree_with_count(
    size: tuple[int, int], num_crops: int
) -> None:
    proc = Phi3VImageProcessor(num_crops=num_crops)
    img = Image.new("RGB", size, (10, 200, 30))
    out = proc([img, img.rotate(90, expand=True)], return_tensors="pt")
    assert out["pixel_values"].shape == (2, num_crops + 1, 3, 336, 336)
    for i, (h, w) in enumerate(out["image_sizes"].tolist()):
        assert formula(h // 336, w // 336) == int(out["num_img_tokens"][i])
    h, w = out["image_sizes"][0].tolist()
    assert int(out["num_img_tokens"][0]) == proc.calc_num_image_tokens_from_image_size(*size)
    used = 1 + (h // 336) * (w // 336)
    assert torch.count_nonzero(out["pixel_values"][0, used:]) == 0  # zero-padded crop slots


def test_normalisation_and_white_padding() -> None:
    proc = Phi3VImageProcessor(num_crops=4)
    out = proc(Image.new("RGB", (640, 480), (0, 0, 0)), return_tensors="pt")
    crops = out["pixel_values"][0]
    white = (1.0 - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
    black = (0.0 - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
    # 640x480 -> 672x504 padded to 672x672 with 84 white rows on top: first crop row is white
    np.testing.assert_allclose(crops[1, :, 0, 0].numpy(), white, rtol=1e-5)
    np.testing.assert_allclose(crops[1, :, 200, 200].numpy(), black, rtol=1e-5)


def test_crops_are_row_major_tiles_of_the_padded_image() -> None:
    img = Image.new("RGB", (672, 336))
    img.paste((255, 0, 0), (0, 0, 336, 336))
    img.paste((0, 0, 255), (336, 0, 672, 336))
    out = Phi3VImageProcessor(num_crops=2)(img, return_tensors="pt")
    left, right = out["pixel_values"][0, 1], out["pixel_values"][0, 2]
    assert left[0].mean() > left[2].mean()  # red tile first
    assert right[2].mean() > right[0].mean()


def test_accepts_numpy_and_grayscale() -> None:
    proc = Phi3VImageProcessor(num_crops=1)
    gray = proc(Image.new("L", (50, 40), 128), return_tensors="pt")
    arr = proc(np.full((40, 50, 3), 128, dtype=np.uint8), return_tensors="pt")
    assert torch.equal(gray["pixel_values"], arr["pixel_values"])


@pytest.mark.parametrize("bad", [None, [], "not an image", np.zeros((2, 2, 2, 2), np.uint8)])
def test_bad_images_are_refused(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        Phi3VImageProcessor()(bad)


@pytest.mark.parametrize("num_crops", [0, 17])
def test_num_crops_out_of_range(num_crops: int) -> None:
    with pytest.raises(ValueError, match="num_crops"):
        hd_layout(100, 100, num_crops)


def test_zero_sized_image_refused() -> None:
    with pytest.raises(ValueError, match="no pixels"):
        hd_layout(0, 10, 4)
