"""Compare our processor's pixels with a torchvision transcription of Microsoft's transform.

CI machines cannot install torchvision (only CUDA builds exist on PyPI), so this runs where
torchvision is present: ``python -m tests.device.check_processor_vs_torchvision``. It prints
one line per case and exits non-zero on any mismatch in shapes, image sizes, token counts or
pixels (max abs difference over all crops).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

from serve.phi3v import Phi3VImageProcessor

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def reference(img: Image.Image, hd_num: int) -> tuple[torch.Tensor, list[int], int]:
    """Microsoft's HD transform and preprocess, step by step, with torchvision."""
    width, height = img.size
    trans = width < height
    if trans:
        img = img.transpose(Image.TRANSPOSE)
        width, height = img.size
    ratio = width / height
    scale = 1
    while scale * np.ceil(scale / ratio) <= hd_num:
        scale += 1
    scale -= 1
    new_w = int(scale * 336)
    new_h = int(new_w / ratio)
    img = F.resize(img, [new_h, new_w])
    tar = int(np.ceil(new_h / 336) * 336)
    top = int((tar - new_h) / 2)
    img = F.pad(img, [0, top, 0, tar - new_h - top], fill=[255, 255, 255])
    if trans:
        img = img.transpose(Image.TRANSPOSE)
    hd = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])(img)
    glb = torch.nn.functional.interpolate(hd.unsqueeze(0).float(), size=(336, 336), mode="bicubic")
    h, w = hd.shape[1], hd.shape[2]
    tiles = hd.reshape(1, 3, h // 336, 336, w // 336, 336).permute(0, 2, 4, 1, 3, 5)
    crops = torch.cat([glb, tiles.reshape(-1, 3, 336, 336)], dim=0)
    if crops.shape[0] < hd_num + 1:
        crops = torch.cat([crops, torch.zeros(hd_num + 1 - crops.shape[0], 3, 336, 336)])
    tokens = int((h // 336 * w // 336 + 1) * 144 + 1 + (h // 336 + 1) * 12)
    return crops, [h, w], tokens


def main() -> int:
    rng = np.random.default_rng(7)
    sizes = [(640, 480), (1024, 768), (300, 1200), (1600, 100), (100, 1600), (37, 91)]
    sizes += [(int(rng.integers(20, 3000)), int(rng.integers(20, 3000))) for _ in range(14)]
    failures = 0
    for num_crops in (1, 4, 16):
        proc = Phi3VImageProcessor(num_crops=num_crops)
        for w, h in sizes:
            img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            ref, ref_size, ref_tokens = reference(img, num_crops)
            out = proc(img, return_tensors="pt")
            ours = out["pixel_values"][0]
            diff = float((ours - ref).abs().max()) if ours.shape == ref.shape else math.inf
            ok = (
                ours.shape == ref.shape
                and out["image_sizes"][0].tolist() == ref_size
                and int(out["num_img_tokens"][0]) == ref_tokens
                and diff <= 1e-5
            )
            failures += not ok
            print(
                f"{'ok  ' if ok else 'FAIL'} crops={num_crops:2d} {w}x{h} "
                f"size={ref_size} tokens={ref_tokens} max_abs_diff={diff:.2e}"
            )
    print(f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
