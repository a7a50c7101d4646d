"""Checks on /v1/responses bodies: the chat caps and schema guard, images, statelessness."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import GatewayError
from gateway.responses import validate_responses_request
from gateway.settings import Settings

S = Settings(max_tokens_cap=100, max_images_per_request=2, num_crops_max=8)
URL = "data:image/png;base64,AAAA"


def _image(url: str = URL) -> dict[str, Any]:
    return {"type": "input_image", "image_url": url, "detail": "auto"}


def _body(*parts: dict[str, Any], **kw: Any) -> dict[str, Any]:
    content = [{"type": "input_text", "text": "What is this?"}, *parts]
    body: dict[str, Any] = {"model": "m", "input": [{"role": "user", "content": content}]}
    body.update(kw)
    return body


def _refusal(body: dict[str, Any]) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        validate_responses_request(body, S)
    return info.value


def test_store_is_forced_off_and_a_string_input_passes() -> None:
    body = {"model": "m", "input": "hi", "store": True}
    assert validate_responses_request(body, S) == []
    assert body["store"] is False


def test_input_images_are_found_with_their_param_and_url_key() -> None:
    first, second = _image(), _image("https://example.com/a.png")
    body = _body(first, second)
    body["input"].insert(0, {"type": "message", "role": "system", "content": "Be brief."})
    images = validate_responses_request(body, S)
    assert [i.param for i in images] == [
        "input[1].content[1].image_url",
        "input[1].content[2].image_url",
    ]
    assert images[0].holder is first and images[0].key == "image_url"


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("previous_response_id", "resp_1", "continues a stored response"),
        ("background", True, "background response is stored"),
        ("conversation", "conv_1", "stored conversation"),
        ("tools", [{"type": "function", "name": "f"}], "no tool-call format"),
    ],
)
def test_stateful_fields_and_tools_are_refused_saying_why(
    field: str, value: Any, needle: str
) -> None:
    error = _refusal(_body(**{field: value}))
    assert error.status == 400 and error.param == field
    assert error.code == "unsupported_parameter" and needle in error.message


def test_background_false_is_fine() -> None:
    assert validate_responses_request(_body(background=False, previous_response_id=None), S) == []


@pytest.mark.parametrize(
    "body,param",
    [
        (_body(max_output_tokens=101), "max_output_tokens"),
        (_body(mm_processor_kwargs={"num_crops": 9}), "mm_processor_kwargs.num_crops"),
        (_body(stream="yes"), "stream"),
        (_body(instructions=3), "instructions"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": 5}, "input"),
        ({"model": "m", "input": ["hi"]}, "input[0]"),
        ({"model": "m", "input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"role": ["user"], "content": "x"}]}, "input[0].role"),
        (
            {"model": "m", "input": [{"type": "function_call_output", "output": "x"}]},
            "input[0].type",
        ),
        ({"model": "m", "input": [{"role": "user", "content": 1}]}, "input[0].content"),
        (_body({"type": "input_audio"}), "input[0].content[1].type"),
        (_body({"type": "input_text", "text": 1}), "input[0].content[1].text"),
        (
            _body({"type": "input_image", "image_url": {"url": URL}}),
            "input[0].content[1].image_url",
        ),
        (_body({"type": "input_image", "file_id": "file-1"}), "input[0].content[1].file_id"),
    ],
)
def test_bad_fields_are_400_naming_the_field(body: dict[str, Any], param: str) -> None:
    error = _refusal(body)
    assert error.status == 400 and error.param == param


def test_too_many_images_is_422_naming_the_first_one_over() -> None:
    error = _refusal(_body(_image(), _image(), _image()))
    assert error.status == 422 and error.code == "too_many_images"
    assert error.param == "input[0].content[3].image_url"


def test_text_format_goes_through_the_schema_guard() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "multipleOf": 2}}}
    fmt = {"format": {"type": "json_schema", "name": "N", "schema": schema, "strict": True}}
    error = _refusal(_body(text=fmt))
    assert error.code == "schema_unsupported_keyword" and error.param == "text.format.schema"
    error = _refusal(_body(text={"format": {"type": "json_schema", "name": "N"}}))
    assert error.code == "schema_invalid" and error.param == "text.format.schema"
