"""The image corpus is deterministic for a seed and varied in geometry."""

from __future__ import annotations

import base64
import io

from PIL import Image

from loadtest.corpus import KIND_CYCLE, build_corpus


def test_same_seed_gives_identical_bytes() -> None:
    a, b = build_corpus(seed=7, size=10), build_corpus(seed=7, size=10)
    assert [im.sha256 for im in a] == [im.sha256 for im in b]
    assert [im.data_url for im in a] == [im.data_url for im in b]


def test_different_seed_gives_different_images() -> None:
    a, b = build_corpus(seed=1, size=10), build_corpus(seed=2, size=10)
    assert sum(x.sha256 != y.sha256 for x, y in zip(a, b, strict=True)) >= 8


def test_every_kind_and_a_spread_of_aspect_ratios() -> None:
    corpus = build_corpus(seed=0, size=15)
    assert {im.kind for im in corpus} == set(KIND_CYCLE)
    ratios = [im.width / im.height for im in corpus]
    assert min(ratios) < 0.8  # portrait pages
    assert max(ratios) > 3.5  # wide banners
    assert len({(im.width, im.height) for im in corpus}) >= 6


def test_data_url_decodes_to_the_declared_image() -> None:
    for im in build_corpus(seed=3, size=5):
        head, _, b64 = im.data_url.partition(",")
        assert head == f"data:{im.mime};base64"
        assert base64.b64decode(b64) == im.data
        with Image.open(io.BytesIO(im.data)) as decoded:
            assert decoded.size == (im.width, im.height)
            assert decoded.format == ("JPEG" if im.kind == "photo" else "PNG")


def test_scale_shrinks_but_keeps_the_shape() -> None:
    full, half = build_corpus(seed=4, size=5), build_corpus(seed=4, size=5, scale=0.5)
    for a, b in zip(full, half, strict=True):
        assert abs(b.width - a.width / 2) <= 1 and abs(b.height - a.height / 2) <= 1
        assert len(b.data) < len(a.data)
