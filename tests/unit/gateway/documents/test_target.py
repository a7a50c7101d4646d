"""Pages render at the size the processor keeps as is: its token count, none of its resize."""

from __future__ import annotations

import pytest

from gateway.documents import DocumentLimits, PageSelection, RenderJob, render_document
from serve.phi3v import num_image_tokens
from serve.phi3v.geometry import target_size
from tests.support.documents import pdf_bytes, text_page

A4_AT_300_DPI = (2480, 3508)


@pytest.mark.parametrize("crops", [1, 4, 16])
def test_an_a4_page_renders_at_the_shared_geometry_and_costs_the_same_tokens(crops: int) -> None:
    job = RenderJob(
        pdf_bytes([text_page(1)]), "pdf", PageSelection(), crops, target_size,
        DocumentLimits(), "image",
    )  # fmt: skip
    page = render_document(job).pages[0]
    assert (page.width, page.height) == target_size(*A4_AT_300_DPI, crops)
    assert num_image_tokens(page.width, page.height, crops) == num_image_tokens(
        *A4_AT_300_DPI, crops
    )


def test_a_dense_a4_page_at_16_crops_is_not_rendered_at_300_dpi() -> None:
    width, height = target_size(*A4_AT_300_DPI, 16)
    assert (width, height) == (950, 1344)
    assert A4_AT_300_DPI[0] * A4_AT_300_DPI[1] / (width * height) > 6.5  # ~7x fewer pixels
