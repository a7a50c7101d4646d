"""Request checks on chat.completions bodies: each refusal names its field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.bodies import parse_json_object
from gateway.chat.validation import validate_chat_request
from gateway.errors import GatewayError
from gateway.settings import Settings

S = Settings(max_tokens_cap=100, max_n=2, max_images_per_request=2)
IMG = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


def _body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    body.update(kw)
    return body


def _refusal(body: dict[str, Any]) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        validate_chat_request(body, S)
    return info.value


@pytest.mark.parametrize(
    "raw,needle",
    [
        (b"", "empty"),
        (b"{", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"a": 1,}', "line 1 column"),
    ],
)
def test_bad_json_is_400_naming_the_problem(raw: bytes, needle: str) -> None:
    with pytest.raises(GatewayError) as info:
        parse_json_object(raw)
    assert info.value.status == 400 and needle in info.value.message


@pytest.mark.parametrize(
    "body,param",
    [
        (_body(messages=[]), "messages"),
        (_body(messages="hi"), "messages"),
        ({"model": "m"}, "messages"),
        (_body(messages=["hi"]), "messages[0]"),
        (_body(messages=[{"role": "wizard", "content": "x"}]), "messages[0].role"),
        (_body(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
        (_body(messages=[{"role": {}, "content": "x"}]), "messages[0].role"),  # was a 500
        (
            _body(messages=[{"role": "user", "content": [{"type": "audio"}]}]),
            "messages[0].content[0].type",
        ),
        (
            _body(messages=[{"role": "user", "content": [{"type": "text", "text": 3}]}]),
            "messages[0].content[0].text",
        ),
        (_body(messages=[{"role": "user", "content": ["x"]}]), "messages[0].content[0]"),
        (
            _body(
                messages=[{"role": "user", "content": [{"type": "image_url", "image_url": "u"}]}]
            ),
            "messages[0].content[0].image_url",
        ),
        (_body(max_tokens=101), "max_tokens"),
        (_body(max_tokens=0), "max_tokens"),
        (_body(max_tokens="10"), "max_tokens"),
        (_body(max_tokens=True), "max_tokens"),
        (_body(max_completion_tokens=1000), "max_completion_tokens"),
        (_body(n=3), "n"),
        (_body(stream="yes"), "stream"),
        (_body(mm_processor_kwargs=[]), "mm_processor_kwargs"),
        (_body(mm_processor_kwargs={"num_crops": 17}), "mm_processor_kwargs.num_crops"),
        (_body(mm_processor_kwargs={"num_crops": 0}), "mm_processor_kwargs.num_crops"),
    ],
)
def test_shape_errors_name_the_field(body: dict[str, Any], param: str) -> None:
    err = _refusal(body)
    assert (err.status, err.param) == (400, param)
    assert json.dumps(err.body())  # serialisable OpenAI body


def test_valid_request_returns_its_image_parts_with_params() -> None:
    body = _body(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "what?"}, IMG]},
            {"role": "assistant", "content": None},
            {"role": "user", "content": [IMG]},
        ],
        max_tokens=100,
        n=2,
        mm_processor_kwargs={"num_crops": 16},
        temperature=0.2,
        response_format={"type": "json_object"},
    )
    parts = validate_chat_request(body, S)
    assert [p.param for p in parts] == [
        "messages[1].content[1].image_url",
        "messages[3].content[0].image_url",
    ]


def test_too_many_images_is_422_naming_the_first_over_the_limit() -> None:
    body = _body(
        messages=[
            {"role": "user", "content": [IMG, IMG]},
            {"role": "user", "content": [{"type": "text", "text": "x"}, IMG]},
        ]
    )
    err = _refusal(body)
    assert (err.status, err.code) == (422, "too_many_images")
    assert err.param == "messages[1].content[1].image_url"
