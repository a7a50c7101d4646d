"""``detail`` and ``num_crops``: which crops a request's images get."""

from __future__ import annotations

import pytest

from gateway.errors import GatewayError
from gateway.images.crops import Crops, image_detail, request_num_crops
from gateway.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings(default_num_crops=4)


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (["low"], Crops(1, True)),
        (["high"], Crops(16, True)),
        (["auto"], Crops(4, False)),
        ([None], Crops(4, False)),
        (["low", "high"], Crops(16, True)),  # the most detailed image decides
        (["low", None], Crops(1, True)),
    ],
)
def test_detail_maps_to_num_crops(settings: Settings, details: list, expected: Crops) -> None:
    assert request_num_crops(None, details, settings) == expected


def test_explicit_num_crops_wins_over_detail(settings: Settings) -> None:
    assert request_num_crops(9, ["low", "high"], settings) == Crops(9, True)


def test_detail_stays_within_the_configured_range() -> None:
    narrow = Settings(num_crops_min=2, num_crops_max=8, default_num_crops=4)
    assert request_num_crops(None, ["low"], narrow) == Crops(2, True)
    assert request_num_crops(None, ["high"], narrow) == Crops(8, True)


def test_unknown_detail_is_a_400_naming_the_field() -> None:
    with pytest.raises(GatewayError) as caught:
        image_detail({"url": "x", "detail": "ultra"}, "messages[0].content[1].image_url")
    assert caught.value.status == 400
    assert caught.value.param == "messages[0].content[1].image_url.detail"
    assert image_detail({"url": "x"}, "p") is None
    assert image_detail({"url": "x", "detail": "high"}, "p") == "high"


def test_default_must_lie_in_the_range() -> None:
    with pytest.raises(ValueError, match="default_num_crops"):
        Settings(num_crops_max=2, default_num_crops=4)
