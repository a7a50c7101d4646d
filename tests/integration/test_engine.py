"""The real vLLM CPU engine on the tiny checkpoint, driven by the openai SDK."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

import openai
import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from transformers import AutoProcessor

from tests.support.engine import Engine, expected_prompt_tokens
from tests.support.images import data_url, make_image

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def client(vllm_engine: Engine) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=vllm_engine.openai_base_url, api_key="unused") as c:
        yield c


def image_part(img: Image.Image) -> dict[str, object]:
    return {"type": "image_url", "image_url": {"url": data_url(img)}}


def test_text_chat(client: openai.OpenAI, vllm_engine: Engine) -> None:
    r = client.chat.completions.create(
        model=vllm_engine.model, messages=[{"role": "user", "content": "Hello"}], max_tokens=8
    )
    assert r.usage is not None and r.usage.completion_tokens >= 1
    assert r.choices[0].finish_reason in {"stop", "length"}


def test_one_image_prompt_tokens_match_our_processor(
    client: openai.OpenAI, vllm_engine: Engine
) -> None:
    img = make_image(640, 480, seed=1)
    r = client.chat.completions.create(
        model=vllm_engine.model,
        messages=[{"role": "user", "content": [image_part(img), {"type": "text", "text": "Hi"}]}],
        max_tokens=4,
        extra_body={"mm_processor_kwargs": {"num_crops": 4}},
    )
    assert r.usage is not None
    expected = expected_prompt_tokens(vllm_engine.model_dir, "Hi", [img], crops=4)
    assert r.usage.prompt_tokens == expected
    proc = AutoProcessor.from_pretrained(vllm_engine.model_dir, trust_remote_code=True)
    text_only = len(proc.tokenizer("<|user|>\n").input_ids) + len(
        proc.tokenizer("\nHi<|end|>\n<|assistant|>\n").input_ids
    )
    assert r.usage.prompt_tokens == 757 + text_only  # 757 image tokens, a BOS per text chunk


def test_two_images(client: openai.OpenAI, vllm_engine: Engine) -> None:
    imgs = [make_image(640, 480, seed=2), make_image(300, 1200, seed=3)]
    r = client.chat.completions.create(
        model=vllm_engine.model,
        messages=[
            {"role": "user", "content": [*map(image_part, imgs), {"type": "text", "text": "Diff?"}]}
        ],
        max_tokens=4,
        extra_body={"mm_processor_kwargs": {"num_crops": 4}},
    )
    assert r.usage is not None
    assert r.usage.prompt_tokens == expected_prompt_tokens(
        vllm_engine.model_dir, "Diff?", imgs, crops=4
    )


def test_per_request_num_crops_16(client: openai.OpenAI, vllm_engine: Engine) -> None:
    img = make_image(1024, 768, seed=4)
    r = client.chat.completions.create(
        model=vllm_engine.model,
        messages=[{"role": "user", "content": [image_part(img), {"type": "text", "text": "Read"}]}],
        max_tokens=2,
        extra_body={"mm_processor_kwargs": {"num_crops": 16}},
    )
    assert r.usage is not None
    expected = expected_prompt_tokens(vllm_engine.model_dir, "Read", [img], crops=16)
    assert r.usage.prompt_tokens == expected
    assert expected > 1921


def test_streaming_with_usage(client: openai.OpenAI, vllm_engine: Engine) -> None:
    stream = client.chat.completions.create(
        model=vllm_engine.model,
        messages=[
            {
                "role": "user",
                "content": [image_part(make_image(320, 240, 5)), {"type": "text", "text": "Tell"}],
            }
        ],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) >= 2
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12


class Reading(BaseModel):
    """Bounded fields: with random weights an unbounded string would never close."""

    model_config = ConfigDict(extra="forbid")
    people: int = Field(ge=0, le=1000)
    setting: Literal["indoor", "outdoor"]
    # A pattern, not max_length: xgrammar 0.2.8's maxLength rule lets raw control characters
    # through (invalid JSON); this character class cannot produce them.
    label: str = Field(pattern=r"^[A-Za-z0-9 ]{0,24}$")


def test_strict_json_schema_validates(client: openai.OpenAI, vllm_engine: Engine) -> None:
    r = client.chat.completions.parse(
        model=vllm_engine.model,
        messages=[
            {
                "role": "user",
                "content": [image_part(make_image(640, 480, 6)), {"type": "text", "text": "JSON"}],
            }
        ],
        response_format=Reading,
        max_tokens=200,
    )
    parsed = r.choices[0].message.parsed
    assert isinstance(parsed, Reading)
    assert Reading.model_validate_json(r.choices[0].message.content or "") == parsed


def test_an_image_over_the_profile_limit_is_refused(
    client: openai.OpenAI, vllm_engine: Engine
) -> None:
    """vLLM itself enforces cpu-dev's limit_mm_per_prompt (the gateway checks it first)."""
    from serve.profiles import get_profile

    limit = get_profile("cpu-dev").limit_mm_per_prompt
    parts = [image_part(make_image(32, 32, seed)) for seed in range(limit + 1)]
    with pytest.raises(openai.BadRequestError, match=f"At most {limit} image"):
        client.chat.completions.create(
            model=vllm_engine.model,
            messages=[{"role": "user", "content": [*parts, {"type": "text", "text": "x"}]}],
            max_tokens=2,
        )


def test_kv_capacity_matches_our_arithmetic(vllm_engine: Engine) -> None:
    from serve.kvcache import ModelSpec, plan
    from serve.profiles import get_profile

    if vllm_engine.log_path is None:
        pytest.skip("reusing an engine started elsewhere: its log is not ours to read")
    log = vllm_engine.log_path.read_text(errors="replace")
    match = re.search(r"CPU KV cache size: ([\d,]+) tokens", log)
    assert match, "vLLM did not log its KV cache size"
    reported = int(match.group(1).replace(",", ""))
    profile = get_profile("cpu-dev")
    predicted = plan(profile, ModelSpec.from_checkpoint(vllm_engine.model_dir))
    assert abs(predicted.vllm_reported_tokens - reported) / reported <= 0.02, (predicted, reported)
    assert predicted.vllm_reported_tokens == reported  # we reproduce vLLM's block arithmetic
