"""Routing over two REAL vLLM CPU replicas (tiny checkpoint) through the real gateway.

Which replica served a request is read from vLLM itself: only that replica's
``vllm:prefix_cache_queries_total`` moves. The same image must always move the same replica's
counters, repeats must show prefix-cache hits there and nowhere else, and with one replica
stopped its images must be served by the other. The last test stops the second replica, so it
stays last in this module.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator

import openai
import pytest
from PIL import Image

from gateway.upstream.replicas import HashRing
from tests.support.engine import Engine, settled_prefix_cache_counts, tree_rss_bytes
from tests.support.gateway_server import GatewayServer, start_gateway
from tests.support.images import data_url, image_bytes, make_image

pytestmark = pytest.mark.engine
log = logging.getLogger(__name__)
SYSTEM = "You describe images in one short sentence."
PER_REPLICA = 2


@pytest.fixture(scope="module")
def pair(vllm_engine: Engine, second_vllm_engine: Engine) -> list[Engine]:
    return [vllm_engine, second_vllm_engine]


@pytest.fixture(scope="module")
def images(pair: list[Engine]) -> list[Image.Image]:
    """Two test images owned by each replica. Which replica owns an image depends on the
    replicas' URLs, and the engines listen on random ports, so fixed seeds alone could all
    land on one replica."""
    owned: dict[int, list[Image.Image]] = {0: [], 1: []}
    for seed in range(100, 200):
        image = make_image(320, 240, seed=seed)
        mine = owned[_owner(pair, image)]
        if len(mine) < PER_REPLICA:
            mine.append(image)
        if all(len(v) == PER_REPLICA for v in owned.values()):
            return owned[0] + owned[1]
    raise AssertionError("100 images and none for one replica: the hash ring is broken")


@pytest.fixture(scope="module")
def routing_gateway(
    pair: list[Engine], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    gw = start_gateway(
        pair[0].base_url,
        tmp_path_factory.mktemp("gw-routing"),
        GATEWAY_UPSTREAM_URLS=",".join(engine.base_url for engine in pair),
        GATEWAY_HEALTH_INTERVAL_S="1",
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def client(routing_gateway: GatewayServer) -> openai.OpenAI:
    key = routing_gateway.create_key("routing")
    return openai.OpenAI(
        base_url=routing_gateway.base_url + "/v1", api_key=key, max_retries=0, timeout=120
    )


def _owner(pair: list[Engine], image: Image.Image) -> int:
    urls = [engine.base_url for engine in pair]
    digest = hashlib.sha256(image_bytes(image, "PNG")).digest()
    return HashRing(urls).owner(digest)


def _ask(client: openai.OpenAI, model: str, image: Image.Image, prompt: str) -> None:
    reply = client.chat.completions.create(
        model=model,
        max_tokens=4,
        messages=[
            {"role": "system", "content": SYSTEM},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": data_url(image)}},
                    {"type": "text", "text": prompt},
                ],
            },
        ],
    )
    assert reply.choices[0].finish_reason in ("stop", "length")


def _counts(pair: list[Engine]) -> list[tuple[float, float]]:
    return [settled_prefix_cache_counts(engine.base_url) for engine in pair]


def test_two_real_replicas_fit_in_memory(pair: list[Engine]) -> None:
    sizes = [tree_rss_bytes(e.proc.pid) for e in pair if e.proc is not None]
    log.warning("vLLM replica RSS (process trees): %s GB", [round(s / 1e9, 2) for s in sizes])
    assert all(size > 0 for size in sizes)


def test_the_same_image_always_hits_the_cache_of_one_replica(
    pair: list[Engine], client: openai.OpenAI, images: list[Image.Image]
) -> None:
    model = pair[0].model
    for index, image in enumerate(images):
        owner = _owner(pair, image)
        other = 1 - owner
        before = _counts(pair)
        for prompt in ("What is this?", "Name one colour.", "Is it dark?"):
            _ask(client, model, image, prompt)
        after = _counts(pair)
        hits = [after[i][0] - before[i][0] for i in (0, 1)]
        queries = [after[i][1] - before[i][1] for i in (0, 1)]
        assert queries[owner] > 0, f"image {index} never reached replica {owner}"
        assert queries[other] == 0, f"image {index} also reached replica {other}"
        assert hits[owner] > 0 and hits[other] == 0, (index, hits)
        # Prompts 2 and 3 reuse the system prompt + image blocks of prompt 1.
        assert hits[owner] / queries[owner] > 0.5, (index, hits, queries)


def test_a_stopped_replica_is_skipped(
    pair: list[Engine],
    client: openai.OpenAI,
    routing_gateway: GatewayServer,
    images: list[Image.Image],
) -> None:
    import httpx

    image = next(image for image in images if _owner(pair, image) == 1)
    assert pair[1].proc is not None
    pair[1].stop()  # ours alone: only this folder uses second_vllm_engine
    before = settled_prefix_cache_counts(pair[0].base_url)
    _ask(client, pair[0].model, image, "What is this?")
    _ask(client, pair[0].model, image, "Name one colour.")
    after = settled_prefix_cache_counts(pair[0].base_url)
    assert after[1] > before[1], "the survivor did not serve the stopped replica's image"
    assert after[0] > before[0], "the second request should hit the survivor's cache"
    ready = httpx.get(routing_gateway.base_url + "/ready", timeout=10)
    assert ready.status_code == 200
    assert [r["up"] for r in ready.json()["replicas"]] == [True, False]
