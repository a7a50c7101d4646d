"""Routing over two stub replicas through the real gateway process: image affinity, the
least-loaded choice for text, a dead replica skipped and brought back, a replica dying
mid-stream, and every replica down. Each stub answers with ``id: chatcmpl-<its name>``."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.upstream.replicas import HashRing
from tests.support.gateway_server import GatewayServer, Proc, start_gateway, start_stub
from tests.support.images import data_url, image_bytes, make_image


@dataclass
class Cluster:
    stubs: dict[str, Proc]
    gateway: GatewayServer
    key: str

    def chat(self, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            self.gateway.base_url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {self.key}"},
            timeout=30,
        )

    def answered_by(self, body: dict[str, Any]) -> str:
        r = self.chat(body)
        assert r.status_code == 200, r.text
        return str(r.json()["id"]).removeprefix("chatcmpl-")

    def ready(self) -> httpx.Response:
        return httpx.get(self.gateway.base_url + "/ready", timeout=10)

    def name_of(self, url: str) -> str:
        return next(name for name, stub in self.stubs.items() if stub.base_url == url)

    def owner(self, image: bytes) -> str:
        """Which stub the ring gives this image's bytes to, as the gateway computes it."""
        urls = [self.stubs[name].base_url for name in ("a", "b")]
        return self.name_of(urls[HashRing(urls).owner(hashlib.sha256(image).digest())])


def _image_chat(url: str, text: str = "what is this?", **extra: Any) -> dict[str, Any]:
    content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": text}]
    return {"model": "stub", "messages": [{"role": "user", "content": content}], **extra}


def _text_chat(model: str = "stub", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll until ``condition()``; a deadline against hangs, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _up(cluster: Cluster) -> dict[str, bool]:
    r = cluster.ready()
    if r.status_code != 200:
        return {}
    return {cluster.name_of(rep["url"]): rep["up"] for rep in r.json()["replicas"]}


def _in_flight(cluster: Cluster) -> list[int]:
    return [rep["in_flight"] for rep in cluster.ready().json()["replicas"]]


def data_url_of(image: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(image).decode()


IMAGES = [image_bytes(make_image(64 + i, 48, seed=i), "PNG") for i in range(24)]
"""Enough that the ring, whatever ports the stubs got, gives each some (all on one: 1 in 8M)."""


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two stubs ``a`` and ``b`` and a gateway routing over both (fast health checks)."""
    work = tmp_path_factory.mktemp("routing")
    stubs: dict[str, Proc] = {}
    gateway: GatewayServer | None = None
    try:
        for name in ("a", "b"):
            stubs[name] = start_stub(work, name=name)
        gateway = start_gateway(
            stubs["a"].base_url,
            work,
            GATEWAY_UPSTREAM_URLS=",".join(stubs[n].base_url for n in ("a", "b")),
            GATEWAY_HEALTH_INTERVAL_S="0.2",
            GATEWAY_HEALTH_FAILURE_THRESHOLD="2",
            GATEWAY_UPSTREAM_READ_TIMEOUT_S="5",
            GATEWAY_METRICS_PUBLIC="true",
            GATEWAY_FETCH_ALLOWED_HOSTS="127.0.0.1",
            GATEWAY_ALLOW_PRIVATE_FETCH="true",
        )
        yield Cluster(stubs, gateway, gateway.create_key("router"))
    finally:
        if gateway is not None:
            gateway.stop()
        for stub in stubs.values():
            stub.stop()


def test_the_same_image_always_reaches_its_replica_and_images_spread(cluster: Cluster) -> None:
    seen: dict[str, str] = {}
    for round_ in range(3):
        for i, image in enumerate(IMAGES):
            url = data_url_of(image)
            name = cluster.answered_by(_image_chat(url, text=f"prompt {round_}"))
            assert name == cluster.owner(image), f"image {i} left its ring owner"
            assert seen.setdefault(f"image {i}", name) == name
    assert set(seen.values()) == {"a", "b"}, "24 images all landed on one replica"


def test_a_fetched_image_routes_like_the_same_bytes_as_a_data_url(
    cluster: Cluster, image_server: str
) -> None:
    cat = image_bytes(make_image(640, 480, seed=3), "PNG")  # what the image server serves
    expected = cluster.owner(cat)
    assert cluster.answered_by(_image_chat(image_server + "/cat.png")) == expected
    assert cluster.answered_by(_image_chat(data_url(make_image(640, 480, seed=3)))) == expected


def test_text_only_goes_to_the_least_loaded_replica(cluster: Cluster) -> None:
    held: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: held.append(cluster.chat(_text_chat("stub-hold"))))
    worker.start()
    try:

        def holding() -> str | None:
            for name, stub in cluster.stubs.items():
                if httpx.get(stub.base_url + "/stub/events").json()["held"]:
                    return name
            return None

        _wait_for(lambda: holding() is not None, "the held request to arrive")
        busy = holding()
        idle = "b" if busy == "a" else "a"
        answers = {cluster.answered_by(_text_chat()) for _ in range(6)}
        assert answers == {idle}
    finally:
        for stub in cluster.stubs.values():
            httpx.get(stub.base_url + "/stub/release")
        worker.join(timeout=30)
    assert held and held[0].status_code == 200
    assert held[0].json()["id"] == f"chatcmpl-{busy}"
    assert _in_flight(cluster) == [0, 0]


def test_a_dead_replica_is_skipped_shown_down_and_comes_back(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    owned_by_b = [image for image in IMAGES if cluster.owner(image) == "b"]
    url = data_url_of(owned_by_b[0])
    assert cluster.answered_by(_image_chat(url)) == "b"
    port = int(cluster.stubs["b"].base_url.rsplit(":", 1)[1])
    cluster.stubs["b"].stop()

    for image in owned_by_b:  # the first one is retried on "a" after its connect fails
        assert cluster.answered_by(_image_chat(data_url_of(image))) == "a"
    r = cluster.ready()
    assert r.status_code == 200
    assert _up(cluster) == {"a": True, "b": False}
    metrics = httpx.get(cluster.gateway.base_url + "/metrics").text
    b_url = cluster.stubs["b"].base_url
    assert f'gateway_upstream_replica_up{{replica="{b_url}"}} 0.0' in metrics
    assert f'gateway_upstream_requests_total{{replica="{b_url}"}}' in metrics

    cluster.stubs["b"] = start_stub(tmp_path_factory.mktemp("b-again"), name="b", port=port)
    # No /ready here: only the background health poll can bring b back into rotation.
    _wait_for(lambda: cluster.answered_by(_image_chat(url)) == "b", "replica b to come back")
    assert _up(cluster) == {"a": True, "b": True}


def test_a_replica_dying_mid_stream_fails_that_request_only(cluster: Cluster) -> None:
    with httpx.stream(
        "POST",
        cluster.gateway.base_url + "/v1/chat/completions",
        json=_text_chat("stub-crash", stream=True),
        headers={"authorization": f"Bearer {cluster.key}"},
        timeout=30,
    ) as r:
        assert r.status_code == 200
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    crashed = json.loads(events[0])["id"].removeprefix("chatcmpl-")
    error = json.loads(events[-2])["error"]
    assert events[-1] == "[DONE]" and error["code"] == "upstream_midstream"
    survivor = "b" if crashed == "a" else "a"
    answers = [cluster.answered_by(_text_chat()) for _ in range(4)]
    assert answers == [survivor] * 4
    assert _up(cluster) == {survivor: True, crashed: False}
    assert _in_flight(cluster) == [0, 0], "a failed stream kept its replica's slot"


def test_every_replica_down_is_a_clear_503(cluster: Cluster) -> None:
    for stub in cluster.stubs.values():
        stub.stop()
    for body in (_text_chat(), _image_chat(data_url_of(IMAGES[0]))):
        r = cluster.chat(body)
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error["code"] == "upstream_unavailable"
        assert "all 2 are down" in error["message"]
    r = cluster.ready()
    assert r.status_code == 503
    assert "not ready" in r.json()["error"]["message"]
