"""The shared HD-transform geometry: target sizes keep the grid and are kept by the processor."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from serve.phi3v.geometry import MAX_NUM_CROPS, TILE, hd_layout, target_size


def sizes() -> list[tuple[int, int]]:
    """Random sizes, tiny ones, extreme ratios, and sizes exactly at grid boundaries."""
    rng = random.Random(11)
    picked = [(rng.randint(1, 6000), rng.randint(1, 6000)) for _ in range(600)]
    picked += [(rng.randint(1, 80), rng.randint(1, 80)) for _ in range(100)]
    extremes = [(1, 1), (2, 1), (1, 2), (5376, 336), (336, 5376), (8000, 50), (50, 8000)]
    extremes += [(12000, 1), (1, 12000), (4032, 3024), (3024, 4032), (2480, 3508)]
    # at and around the ratios where the scale (and so the grid) changes: s/ratio integral
    boundary = [
        (TILE * a + d, TILE * b) for a in range(1, 9) for b in range(1, 9) for d in (-1, 0, 1)
    ]
    boundary += [(h, w) for w, h in boundary]
    return picked + extremes + boundary


@pytest.mark.parametrize("num_crops", range(1, MAX_NUM_CROPS + 1))
def test_target_keeps_the_grid_and_is_kept_by_the_processor(num_crops: int) -> None:
    for width, height in sizes():
        original = hd_layout(width, height, num_crops)
        target = target_size(width, height, num_crops)
        again = hd_layout(*target, num_crops)
        where = (width, height, num_crops, target)
        assert (again.width, again.height) == (original.width, original.height), where
        assert again.num_tokens == original.num_tokens, where
        assert again.transposed == original.transposed, where
        assert again.size == target, where  # the processor's resize is a no-op
        long_side, short_side = original.resized
        assert max(target) == long_side, where
        assert abs(min(target) - short_side) <= 2 or long_side == short_side, where


def test_target_is_the_processors_own_size_almost_always() -> None:
    same = total = 0
    for width, height in sizes():
        for num_crops in (1, 4, 16):
            total += 1
            same += (
                target_size(width, height, num_crops) == hd_layout(width, height, num_crops).size
            )
    assert same / total > 0.9, (same, total)


def test_known_targets() -> None:
    assert target_size(4032, 3024, 4) == (672, 504)
    assert target_size(4032, 3024, 16) == (1344, 1008)
    assert target_size(3024, 4032, 4) == (504, 672)
    assert target_size(640, 480, 1) == (336, 252)
    assert target_size(2480, 3508, 16) == (950, 1344)


def test_geometry_imports_without_torch_or_pillow() -> None:
    """The gateway's image has no torch or transformers; importing the geometry must not
    pull them in through the package ``__init__``."""
    code = (
        "import sys; import serve.phi3v.geometry, serve.phi3v; "
        "bad = {'torch', 'transformers', 'numpy', 'PIL'} & set(sys.modules); "
        "print(sorted(bad)); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("bad", [(0, 10, 4), (10, 0, 4), (10, 10, 0), (10, 10, 17)])
def test_refuses_what_the_processor_refuses(bad: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        target_size(*bad)
