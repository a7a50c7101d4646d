"""Pre-sized images against the real engine: the prompt costs exactly what the original does.

Each image goes once straight to vLLM (which decodes and resizes the original itself) and once
through the gateway (which sends the pre-sized picture, and the num_crops it sized for); the
prompt token counts must be equal, for photos and scans, wide, tall and extreme shapes, sizes
at a grid boundary, and num_crops 1, 4 and 16. ``detail`` must cost what its num_crops costs.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from PIL import Image, ImageDraw

from tests.support.gateway_server import GatewayServer

pytestmark = pytest.mark.engine


def _picture(width: int, height: int, seed: int) -> Image.Image:
    img = Image.new("RGB", (width, height), (200, (seed * 40) % 256, 90))
    draw = ImageDraw.Draw(img)
    for x in range(0, width, max(2, width // 40)):
        draw.line([(x, 0), (width - x, height)], fill=(20, 20, (x * 7) % 256), width=2)
    draw.text((width // 3, height // 3), f"Invoice {seed} total 12.50", fill=(0, 0, 0))
    return img


def _data_url(width: int, height: int, fmt: str, seed: int) -> str:
    buf = io.BytesIO()
    _picture(width, height, seed).save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    mime = "image/jpeg" if fmt == "JPEG" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode()


# (width, height, format): a phone photo each way up, an A4 scan, extreme strips, a size
# whose 16-crop target sits exactly on a tile boundary, and one that needs no pre-size.
SHAPES = [
    (2400, 1800, "JPEG"),
    (1800, 2400, "JPEG"),
    (1240, 1754, "PNG"),
    (3000, 150, "PNG"),
    (150, 3000, "JPEG"),
    (2016, 1345, "PNG"),
    (640, 480, "PNG"),
]


@pytest.fixture(scope="module")
def clients(
    engine_gateway: GatewayServer, vllm_engine: Any
) -> Iterator[tuple[openai.OpenAI, openai.OpenAI, str]]:
    key = engine_gateway.create_key("image-path")
    gateway = openai.OpenAI(
        base_url=engine_gateway.base_url + "/v1", api_key=key, max_retries=0, timeout=300
    )
    direct = openai.OpenAI(
        base_url=vllm_engine.base_url + "/v1", api_key="unused", max_retries=0, timeout=300
    )
    yield gateway, direct, str(vllm_engine.model)
    gateway.close()
    direct.close()


def _prompt_tokens(
    client: openai.OpenAI,
    model: str,
    url: str,
    *,
    num_crops: int | None = None,
    detail: str | None = None,
) -> int:
    image: dict[str, Any] = {"url": url}
    if detail is not None:
        image["detail"] = detail
    extra = {"mm_processor_kwargs": {"num_crops": num_crops}} if num_crops else {}
    reply = client.chat.completions.create(
        model=model,
        max_tokens=1,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": image},  # type: ignore[typeddict-item]
                    {"type": "text", "text": "What is written here?"},
                ],
            }
        ],
        extra_body=extra,
    )
    assert reply.usage is not None
    return reply.usage.prompt_tokens


@pytest.mark.parametrize("num_crops", [1, 4, 16])
@pytest.mark.parametrize(("width", "height", "fmt"), SHAPES)
def test_token_counts_through_the_gateway_equal_direct(
    clients: tuple[openai.OpenAI, openai.OpenAI, str],
    width: int,
    height: int,
    fmt: str,
    num_crops: int,
) -> None:
    gateway, direct, model = clients
    url = _data_url(width, height, fmt, seed=width + height)
    via = _prompt_tokens(gateway, model, url, num_crops=num_crops)
    straight = _prompt_tokens(direct, model, url, num_crops=num_crops)
    assert via == straight, (width, height, fmt, num_crops)


@pytest.mark.parametrize(("detail", "num_crops"), [("low", 1), ("high", 16), ("auto", None)])
def test_detail_costs_what_its_num_crops_costs(
    clients: tuple[openai.OpenAI, openai.OpenAI, str], detail: str, num_crops: int | None
) -> None:
    gateway, direct, model = clients
    url = _data_url(2400, 1800, "JPEG", seed=99)
    via = _prompt_tokens(gateway, model, url, detail=detail)
    straight = _prompt_tokens(direct, model, url, num_crops=num_crops)  # None: engine default
    assert via == straight


def test_detail_changes_the_cost(clients: tuple[openai.OpenAI, openai.OpenAI, str]) -> None:
    """Before issue 11, vLLM ignored detail: low and high cost the same."""
    gateway, _, model = clients
    url = _data_url(2400, 1800, "JPEG", seed=98)
    low = _prompt_tokens(gateway, model, url, detail="low")
    high = _prompt_tokens(gateway, model, url, detail="high")
    assert high - low > 1000  # 16 crops against 1


def test_explicit_num_crops_wins_over_detail(
    clients: tuple[openai.OpenAI, openai.OpenAI, str],
) -> None:
    gateway, direct, model = clients
    url = _data_url(2400, 1800, "JPEG", seed=97)
    via = _prompt_tokens(gateway, model, url, detail="high", num_crops=1)
    assert via == _prompt_tokens(direct, model, url, num_crops=1)
