"""The predictor's inputs: comma-separated URLs, uploads under the cap, errors naming inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ErrorCode, GatewayError
from gateway.predictor.inputs import PredictionError, from_gateway, read_upload, split_urls
from gateway.settings import Settings


def test_image_urls_split_on_commas_and_blanks_are_dropped() -> None:
    text = " https://a.example/1.png,http://b.example/2.jpg , ,"
    assert split_urls(text) == ["https://a.example/1.png", "http://b.example/2.jpg"]
    assert split_urls("") is None and split_urls(" , ") is None


def test_a_data_url_in_image_urls_is_refused_pointing_at_image() -> None:
    with pytest.raises(PredictionError, match=r"^image_urls\[0\]: .*send it as `image`"):
        split_urls("data:image/png;base64,AAAA")


def test_other_schemes_are_refused_by_position() -> None:
    with pytest.raises(PredictionError, match=r"^image_urls\[1\]: 'ftp://x/y.png' is not"):
        split_urls("https://a.example/1.png, ftp://x/y.png")


def test_an_upload_over_the_cap_is_refused_before_it_is_all_read(tmp_path: Path) -> None:
    settings = Settings(max_image_bytes=1000, document_max_bytes=2000)
    big = tmp_path / "big.png"
    big.write_bytes(b"x" * 2001)
    with pytest.raises(PredictionError, match="^image: the file is larger than 2000 bytes"):
        read_upload(big, settings)
    small = tmp_path / "small.png"
    small.write_bytes(b"x" * 2000)
    assert read_upload(small, settings) == b"x" * 2000
    assert read_upload(None, settings) is None


def test_a_gateway_error_becomes_a_failure_that_starts_with_the_input() -> None:
    error = GatewayError(
        400, "image could not be decoded", param="image", code=ErrorCode.IMAGE_CORRUPT
    )
    assert str(from_gateway(error)) == "image: image could not be decoded (image_corrupt)"
    named = GatewayError(404, "schema: no such", param="schema", code=ErrorCode.UNKNOWN_SCHEMA)
    assert str(from_gateway(named)) == "schema: no such (unknown_schema)"
    down = GatewayError(503, "engine down", code=ErrorCode.UPSTREAM_UNAVAILABLE)
    assert str(from_gateway(down)) == "engine down (upstream_unavailable)"
