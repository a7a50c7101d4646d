"""How many 336-px crops a request's images get: ``num_crops`` from the request, or from
OpenAI's ``image_url.detail``, or the engine's default.

Phi-3.5-vision's crop count is the one quality knob a client has: 1 crop (313 tokens at most)
for a thumbnail-level look, 4 (the model's default) for scenes and several images, 16 for
reading a document. OpenAI clients say the same thing with ``detail``, so it maps:

    ======================  =========================================
    ``detail``              num_crops
    ======================  =========================================
    ``low``                 1 (``num_crops_min`` if that is higher)
    ``high``                16 (``num_crops_max`` if that is lower)
    ``auto`` or absent      the engine's default (``default_num_crops``)
    ======================  =========================================

An explicit ``mm_processor_kwargs.num_crops`` wins over ``detail``. vLLM applies num_crops to
a whole request, so when images in one request ask for different details the most detailed
one decides (a request is never refused for mixing them).

    detail = image_detail(holder, param)            # 400 for anything but low/high/auto
    crops = request_num_crops(explicit, [detail, ...], settings)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ErrorCode, GatewayError
from ..settings import Settings

__all__ = [
    "DETAILS",
    "HIGH_CROPS",
    "LOW_CROPS",
    "Crops",
    "Detail",
    "image_detail",
    "request_num_crops",
]

Detail = Literal["low", "high", "auto"]
DETAILS: tuple[Detail, ...] = ("low", "high", "auto")
LOW_CROPS = 1
HIGH_CROPS = 16


@dataclass(frozen=True, slots=True)
class Crops:
    """The num_crops for a request, and whether the client chose it."""

    num_crops: int
    explicit: bool
    """True when ``mm_processor_kwargs.num_crops`` or a ``detail`` other than auto set it:
    the gateway must then forward it, or vLLM would use its own default."""


def image_detail(holder: dict[str, Any], param: str) -> Detail | None:
    """The ``detail`` of one ``image_url`` object, checked; None when absent."""
    detail = holder.get("detail")
    if detail is None:
        return None
    if detail not in DETAILS:
        raise GatewayError(
            400,
            f"{param}.detail: must be one of low, high, auto, got {detail!r}",
            param=f"{param}.detail",
            code=ErrorCode.INVALID_VALUE,
        )
    return detail


def request_num_crops(
    explicit: int | None, details: Iterable[Detail | None], settings: Settings
) -> Crops:
    """num_crops for the whole request (``explicit`` is already range-checked)."""
    if explicit is not None:
        return Crops(explicit, True)
    chosen = [_crops_for(d, settings) for d in details if d == "low" or d == "high"]
    if chosen:
        return Crops(max(chosen), True)
    return Crops(settings.default_num_crops, False)


def _crops_for(detail: Detail, settings: Settings) -> int:
    if detail == "low":
        return max(LOW_CROPS, settings.num_crops_min)
    return min(HIGH_CROPS, settings.num_crops_max)
