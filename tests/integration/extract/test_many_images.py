"""Many images in one request, on an engine started with the current cpu-dev profile.

cpu-dev takes 20 images per request (``limit_mm_per_prompt``), the GPU profiles 24; the
gateway's default limit follows cpu-dev. A shared engine started before the profile changed
would refuse these, so they run against the session's engine like every engine test, and the
first test checks that engine's limit.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import openai
import pytest

import schemas
from serve.profiles import get_profile
from tests.support.documents import pdf_bytes, text_page
from tests.support.engine import Engine, expected_prompt_tokens
from tests.support.gateway_server import GatewayServer
from tests.support.images import data_url, make_image

pytestmark = pytest.mark.engine

LIMIT = get_profile("cpu-dev").limit_mm_per_prompt
IMAGES = [make_image(320 + 16 * i, 240, seed=40 + i) for i in range(20)]


@pytest.fixture(scope="module")
def key(engine_gateway: GatewayServer) -> str:
    return engine_gateway.create_key("many-images", scopes=["chat", "extract"])


@pytest.fixture(scope="module")
def client(engine_gateway: GatewayServer, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=engine_gateway.base_url + "/v1", api_key=key) as c:
        yield c


@pytest.fixture(scope="module")
def api(engine_gateway: GatewayServer, key: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=engine_gateway.base_url, headers=headers, timeout=600) as c:
        yield c


def parts(images: list[object]) -> list[dict[str, object]]:
    return [{"type": "image_url", "image_url": {"url": data_url(i)}} for i in images]  # type: ignore[arg-type]


def test_twenty_images_in_one_chat_request(client: openai.OpenAI, vllm_engine: Engine) -> None:
    assert LIMIT >= 20
    reply = client.chat.completions.create(
        model="phi-3.5-vision",
        messages=[{"role": "user", "content": [*parts(IMAGES), {"type": "text", "text": "Hi"}]}],  # type: ignore[list-item]
        max_tokens=4,
        extra_body={"mm_processor_kwargs": {"num_crops": 1}},  # 313 tokens each: CI stays fast
    )
    assert reply.usage is not None
    expected = expected_prompt_tokens(vllm_engine.model_dir, "Hi", IMAGES, crops=1)
    assert reply.usage.prompt_tokens == expected > 20 * 313


def test_one_image_over_the_limit_is_refused_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(
            model="phi-3.5-vision",
            messages=[{"role": "user", "content": parts(IMAGES + IMAGES[:1])}],  # type: ignore[misc]
            max_tokens=4,
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert (error["code"], error["param"]) == (
        "too_many_images",
        f"messages[0].content[{LIMIT}].image_url",
    )
    assert f"at most {LIMIT}" in error["message"]


def test_a_slide_deck_pdf_is_read_in_one_request(api: httpx.Client) -> None:
    deck = pdf_bytes([text_page(n, (1600, 900)) for n in range(1, 9)])  # 8 landscape slides
    url = "data:application/pdf;base64," + base64.b64encode(deck).decode()
    r = api.post("/v1/extract/slide_deck", json={"image_url": url, "temperature": 1.0, "seed": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "extraction" and body["pages"] == list(range(1, 9))
    schemas.get("slide_deck").model.model_validate(body["data"])
    # one request carried all eight slides at num_crops 4 (a 16:9 slide: 2x2 tiles, 757 each)
    assert body["usage"]["prompt_tokens"] > 8 * 757


def test_a_slide_deck_from_a_list_of_images(api: httpx.Client) -> None:
    urls = [data_url(i) for i in IMAGES[:6]]
    r = api.post("/v1/extract/slide_deck", json={"image_urls": urls, "temperature": 1.0, "seed": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["pages"] == [1, 2, 3, 4, 5, 6]
    schemas.get("slide_deck").model.model_validate(body["data"])


def test_a_deck_over_the_image_limit_is_refused(api: httpx.Client) -> None:
    urls = [data_url(make_image(32, 32, seed=i)) for i in range(LIMIT + 1)]
    r = api.post("/v1/extract/slide_deck", json={"image_urls": urls})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["param"]) == ("too_many_images", f"image_urls[{LIMIT}]")
    assert "GATEWAY_MAX_IMAGES_PER_REQUEST" in error["message"]
