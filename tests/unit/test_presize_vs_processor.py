"""The gateway's pre-sizing against vLLM's own path (its image loader, then our processor).

For every size and num_crops the pre-sized image must give the processor the same crop grid,
token count and image size as the original; from a lossless source the pixels the vision
tower sees must be bit-identical wherever the target is the processor's own size; from a
JPEG (decoded at reduced scale, re-encoded at quality 95) they must stay close (PSNR).
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw
from vllm.multimodal.media.image import ImageMediaIO

from gateway.images.presize import PreparedImage, TooManyPixels, presize_image
from serve.phi3v import Phi3VImageProcessor
from serve.phi3v.geometry import hd_layout, target_size

CAP = 50_000_000
VLLM_IO = ImageMediaIO(image_mode="RGB")


def picture(width: int, height: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """Edges, text-like strokes and noise: enough detail for resampling errors to show."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8) // 4 + 96
    img = Image.fromarray(base, "RGB")
    draw = ImageDraw.Draw(img)
    for i in range(0, max(width, height), max(4, min(width, height) // 12)):
        draw.line([(i, 0), (0, i)], fill=(10, 10, 10), width=2)
        draw.text((i % max(1, width - 20), i % max(1, height - 10)), "Ab12", fill=(250, 20, 20))
    return img.convert(mode) if mode != "RGB" else img


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def vllm_path(data: bytes, num_crops: int) -> dict[str, object]:
    """What vLLM does with bytes it is sent: its loader (EXIF, RGB), then our processor."""
    image = VLLM_IO.load_bytes(data).media
    out = Phi3VImageProcessor(num_crops=num_crops).preprocess(image, return_tensors="np")
    return {
        "pixels": out["pixel_values"],
        "sizes": out["image_sizes"].tolist(),
        "tokens": list(out["num_img_tokens"]),
        "loaded": image.size,
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def presized_pixels_psnr(prepared: PreparedImage, original: bytes, num_crops: int) -> float:
    """PSNR between the pre-sized picture and vLLM's loader + processor resize of the
    original to the same size (the processor's own size, or a row or two off it)."""
    image = VLLM_IO.load_bytes(original).media
    transposed = hd_layout(image.width, image.height, num_crops).transposed
    width, height = target_size(image.width, image.height, num_crops)
    if transposed:
        flipped = image.transpose(Image.Transpose.TRANSPOSE)
        ref = flipped.resize((height, width), Image.Resampling.BILINEAR)
        ref = ref.transpose(Image.Transpose.TRANSPOSE)
    else:
        ref = image.resize((width, height), Image.Resampling.BILINEAR)
    got = Image.open(io.BytesIO(prepared.data)).convert("RGB")
    assert got.size == ref.size
    return psnr(np.asarray(got), np.asarray(ref))


def cases() -> list[tuple[int, int, int]]:
    rng = random.Random(7)
    picked = [
        (rng.randint(400, 2200), rng.randint(400, 2200), rng.choice((1, 4, 16))) for _ in range(14)
    ]
    extremes = [(3000, 120, 4), (120, 3000, 4), (2690, 338, 16), (338, 2690, 16), (1345, 1008, 16)]
    boundary = [(1008, 672, 4), (1009, 672, 4), (2016, 1345, 16), (700, 700, 1), (701, 350, 2)]
    return picked + extremes + boundary


@pytest.mark.parametrize(("width", "height", "num_crops"), cases())
def test_png_presize_gives_vllm_the_same_grid_and_pixels(
    width: int, height: int, num_crops: int
) -> None:
    original = encode(picture(width, height, seed=width), "PNG")
    prepared = presize_image(original, "PNG", num_crops, CAP)
    direct, via = vllm_path(original, num_crops), vllm_path(prepared.data, num_crops)
    assert via["tokens"] == direct["tokens"]
    assert via["sizes"] == direct["sizes"]
    assert prepared.format == "PNG" and prepared.presized == (
        width > target_size(width, height, num_crops)[0]
    )
    if target_size(width, height, num_crops) == hd_layout(width, height, num_crops).size:
        assert np.array_equal(via["pixels"], direct["pixels"])  # bit for bit
    else:  # the target is a row or two off the processor's size: still its resize, exactly
        assert presized_pixels_psnr(prepared, original, num_crops) == math.inf


@pytest.mark.parametrize(("width", "height", "num_crops"), cases()[::2])
def test_jpeg_presize_keeps_the_grid_and_stays_close(
    width: int, height: int, num_crops: int
) -> None:
    original = encode(picture(width, height, seed=height), "JPEG", quality=90)
    prepared = presize_image(original, "JPEG", num_crops, CAP)
    direct, via = vllm_path(original, num_crops), vllm_path(prepared.data, num_crops)
    assert via["tokens"] == direct["tokens"]
    assert via["sizes"] == direct["sizes"]
    if prepared.presized:
        assert prepared.format == "JPEG"
        assert presized_pixels_psnr(prepared, original, num_crops) > 30


def test_small_image_passes_through_byte_for_byte() -> None:
    original = encode(picture(640, 480), "JPEG", quality=80)
    prepared = presize_image(original, "JPEG", 4, CAP)
    assert not prepared.presized
    assert prepared.data is original
    assert (prepared.width, prepared.height) == (640, 480)


def test_output_is_deterministic_for_the_same_input() -> None:
    original = encode(picture(2000, 1500), "JPEG", quality=90)
    first, second = (presize_image(original, "JPEG", 4, CAP) for _ in range(2))
    assert first.presized and first.data == second.data and first.digest == second.digest
    other = presize_image(original, "JPEG", 16, CAP)
    assert other.digest != first.digest  # another num_crops is another picture upstream


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied_as_vllm_applies_it(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    original = encode(picture(1600, 900), "JPEG", quality=92, exif=exif.tobytes())
    prepared = presize_image(original, "JPEG", 4, CAP)
    direct, via = vllm_path(original, 4), vllm_path(prepared.data, 4)
    assert via["loaded"] == target_size(*direct["loaded"], 4)  # type: ignore[misc]
    assert via["sizes"] == direct["sizes"] and via["tokens"] == direct["tokens"]
    assert presized_pixels_psnr(prepared, original, 4) > 30


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "I;16"])
def test_modes_are_converted_as_vllm_converts_them(mode: str) -> None:
    img = picture(1400, 1000, mode="RGBA" if mode in ("RGBA", "LA") else "RGB")
    if mode in ("RGBA", "LA"):
        alpha = Image.linear_gradient("L").resize(img.size)
        img.putalpha(alpha)
    img = img.convert(mode)
    original = encode(img, "PNG")
    prepared = presize_image(original, "PNG", 4, CAP)
    direct, via = vllm_path(original, 4), vllm_path(prepared.data, 4)
    assert prepared.presized
    assert np.array_equal(via["pixels"], direct["pixels"])


def test_truncated_large_jpeg_is_refused() -> None:
    original = encode(picture(2000, 1500), "JPEG", quality=90)
    with pytest.raises(OSError):
        presize_image(original[: len(original) // 2], "JPEG", 4, CAP)


def test_truncated_small_png_is_refused() -> None:
    original = encode(picture(300, 200), "PNG")
    with pytest.raises(OSError):
        presize_image(original[: len(original) // 2], "PNG", 4, CAP)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pixel_cap_is_checked_from_the_header_before_decoding() -> None:
    bomb = encode(Image.new("L", (9000, 9000)), "PNG")  # ~80 kB declaring 81 MP
    with pytest.raises(TooManyPixels) as caught:
        presize_image(bomb, "PNG", 4, 10_000_000)
    assert (caught.value.width, caught.value.height) == (9000, 9000)
