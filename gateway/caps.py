"""The caps every call to the model obeys, whichever route it came through.

Chat, extraction and every later API check ``num_crops`` and the answer budget here, so an
operator's ``GATEWAY_NUM_CROPS_MAX=8`` or ``GATEWAY_MAX_TOKENS_CAP`` holds everywhere, with the
same error (400 ``invalid_value`` naming the field and the limit). A *default* that comes from
the gateway itself (a schema's recommended crops or answer budget) is clamped into the range
instead: the operator's cap wins over a recommendation, and the caller did nothing wrong.

    check_int(payload.get("n"), 1, settings.max_n, "n")
    crops = num_crops(req.num_crops, spec.num_crops, settings, "num_crops")
"""

from __future__ import annotations

from typing import Any

from .errors import ErrorCode, GatewayError
from .settings import Settings

__all__ = [
    "bad_value",
    "check_int",
    "check_num_crops",
    "check_max_tokens",
    "check_generation",
    "num_crops",
    "max_tokens",
]


def bad_value(param: str, message: str) -> GatewayError:
    """400 ``invalid_value`` whose message starts with the field's path."""
    return GatewayError(400, f"{param}: {message}", param=param, code=ErrorCode.INVALID_VALUE)


def check_int(value: Any, low: int, high: int, param: str) -> None:
    """None passes (the default applies); anything else must be an int in [low, high]."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_value(param, "must be an integer")
    if not low <= value <= high:
        raise bad_value(param, f"must be between {low} and {high}, got {value}")


def check_num_crops(value: Any, settings: Settings, param: str) -> None:
    check_int(value, settings.num_crops_min, settings.num_crops_max, param)


def check_max_tokens(value: Any, settings: Settings, param: str) -> None:
    check_int(value, 1, settings.max_tokens_cap, param)


def check_generation(
    payload: dict[str, Any], settings: Settings, token_fields: tuple[str, ...]
) -> None:
    """The caps on a body that asks the model to generate, whatever the route calls its
    answer budget (chat: ``max_tokens``/``max_completion_tokens``, Responses:
    ``max_output_tokens``): the budget, ``n``, ``stream`` and
    ``mm_processor_kwargs.num_crops``. ``priority`` is the gateway's to set (interactive 0,
    background ``GATEWAY_BACKGROUND_PRIORITY``): a client's would let any key jump the queue."""
    if "priority" in payload:
        raise bad_value("priority", "is set by the gateway, not by the client")
    for name in token_fields:
        check_max_tokens(payload.get(name), settings, name)
    check_int(payload.get("n"), 1, settings.max_n, "n")
    if "stream" in payload and not isinstance(payload["stream"], bool | None):
        raise bad_value("stream", "must be a boolean")
    mm = payload.get("mm_processor_kwargs")
    if mm is not None:
        if not isinstance(mm, dict):
            raise bad_value("mm_processor_kwargs", "must be an object")
        check_num_crops(mm.get("num_crops"), settings, "mm_processor_kwargs.num_crops")


def num_crops(requested: int | None, default: int, settings: Settings, param: str) -> int:
    """The crops to send: the caller's value (checked) or ``default`` clamped to the range."""
    if requested is not None:
        check_num_crops(requested, settings, param)
        return requested
    return min(max(default, settings.num_crops_min), settings.num_crops_max)


def max_tokens(requested: int | None, default: int, settings: Settings, param: str) -> int:
    """The answer budget: the caller's value (checked) or ``default`` clamped to the cap."""
    if requested is not None:
        check_max_tokens(requested, settings, param)
        return requested
    return min(default, settings.max_tokens_cap)
