"""A page rendered at its target size costs the model exactly the tokens of the full page."""

from __future__ import annotations

import pytest

from gateway.documents import page_target_size
from serve.phi3v import num_image_tokens

PAGES = [
    (2480, 3508),  # A4 portrait at 300 dpi
    (3508, 2480),  # A4 landscape
    (2550, 3300),  # US letter
    (3300, 1856),  # a 16:9 slide
    (1063, 638),  # a business card
    (2480, 14032),  # a till roll, 1:5.66
    (1200, 1200),
]


@pytest.mark.parametrize("crops", [1, 2, 4, 9, 12, 16])
@pytest.mark.parametrize(("width", "height"), PAGES)
def test_the_target_keeps_the_crop_grid_and_the_token_count(
    width: int, height: int, crops: int
) -> None:
    target = page_target_size(width, height, crops)
    assert num_image_tokens(*target, crops) == num_image_tokens(width, height, crops)
    assert max(target) % 336 == 0 and max(target) <= 16 * 336


def test_a_dense_a4_page_at_16_crops_is_not_rendered_at_300_dpi() -> None:
    width, height = page_target_size(2480, 3508, 16)
    assert (width, height) == (950, 1344)
    assert 2480 * 3508 / (width * height) > 6.5  # 300 dpi would be ~7x the pixels
