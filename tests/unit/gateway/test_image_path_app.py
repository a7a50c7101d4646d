"""The image path inside the app: what reaches the upstream, and the decode bound.

A recording upstream stands in for vLLM here because these tests are about the bytes the
gateway sends (pre-sized picture, num_crops, routing key) and how many images it decodes at
once; the token counts against the real engine are in
``tests/integration/gateway/test_image_path_engine.py``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from starlette.responses import JSONResponse, Response

import gateway.images.validate as validate
from gateway.app import create_app
from gateway.auth.keys import KeyStore
from gateway.settings import Settings
from tests.support.images import image_bytes, make_image

BIG_JPEG = image_bytes(make_image(2000, 1500, seed=5), "JPEG")
SMALL_PNG = image_bytes(make_image(300, 200, seed=6), "PNG")


class Recorder:
    """Stands in for ``Upstream``: keeps each chat body as sent and its routing key."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.affinity: list[bytes | None] = []

    async def chat(
        self,
        body: bytes,
        record: Any,
        route: str,
        stream: bool,
        affinity: bytes | None = None,
        **options: Any,
    ) -> Response:
        self.raw.append(body)
        self.affinity.append(affinity)
        return JSONResponse({"ok": True})

    @property
    def sent(self) -> dict[str, Any]:
        return json.loads(self.raw[-1])  # type: ignore[no-any-return]


def _app(tmp_path: Path, **settings: Any) -> tuple[TestClient, str, Recorder]:
    s = Settings(keys_db=tmp_path / "k.db", upstream_url="http://127.0.0.1:9", **settings)
    key = KeyStore(s.keys_db).create("t", scopes=["chat"])
    client = TestClient(create_app(s), raise_server_exceptions=False)
    return client, key, Recorder()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, str, Recorder]]:
    client, key, recorder = _app(tmp_path, image_decode_concurrency=2)
    with client:
        client.app.state.upstream = recorder  # type: ignore[attr-defined]
        yield client, key, recorder


def _body(data: bytes, mime: str, detail: str | None = None, **extra: Any) -> dict[str, Any]:
    image: dict[str, Any] = {"url": f"data:{mime};base64," + base64.b64encode(data).decode()}
    if detail:
        image["detail"] = detail
    content = [{"type": "image_url", "image_url": image}, {"type": "text", "text": "hi"}]
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def _post(client: TestClient, key: str, body: dict[str, Any]) -> Any:
    return client.post(
        "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    )


def _sent_image(sent: dict[str, Any]) -> tuple[Image.Image, bytes]:
    url = sent["messages"][0]["content"][0]["image_url"]["url"]
    data = base64.b64decode(url.split(",", 1)[1])
    return Image.open(io.BytesIO(data)), data


def test_large_photo_is_presized_and_its_num_crops_sent(
    app: tuple[TestClient, str, Recorder],
) -> None:
    client, key, upstream = app
    assert _post(client, key, _body(BIG_JPEG, "image/jpeg")).status_code == 200
    image, data = _sent_image(upstream.sent)
    assert (image.format, image.size) == ("JPEG", (672, 504))  # num_crops 4 (the default)
    assert upstream.sent["mm_processor_kwargs"] == {"num_crops": 4}
    assert upstream.affinity[-1] == hashlib.sha256(data).digest()


def test_small_image_goes_through_untouched(app: tuple[TestClient, str, Recorder]) -> None:
    client, key, upstream = app
    body = json.dumps(_body(SMALL_PNG, "image/png")).encode()
    r = client.post(
        "/v1/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert r.status_code == 200
    assert upstream.raw[-1] == body  # byte for byte: no rewrite, no num_crops added
    assert upstream.affinity[-1] == hashlib.sha256(SMALL_PNG).digest()


@pytest.mark.parametrize(
    ("detail", "crops", "size"), [("low", 1, (336, 252)), ("high", 16, (1344, 1008))]
)
def test_detail_picks_the_crops_and_the_size(
    app: tuple[TestClient, str, Recorder], detail: str, crops: int, size: tuple[int, int]
) -> None:
    client, key, upstream = app
    assert _post(client, key, _body(BIG_JPEG, "image/jpeg", detail)).status_code == 200
    assert upstream.sent["mm_processor_kwargs"] == {"num_crops": crops}
    assert _sent_image(upstream.sent)[0].size == size


def test_explicit_num_crops_wins_and_is_kept(app: tuple[TestClient, str, Recorder]) -> None:
    client, key, upstream = app
    body = _body(BIG_JPEG, "image/jpeg", "high", mm_processor_kwargs={"num_crops": 9})
    assert _post(client, key, body).status_code == 200
    assert upstream.sent["mm_processor_kwargs"] == {"num_crops": 9}
    assert _sent_image(upstream.sent)[0].size == (1008, 756)  # 9 crops: a 3x3 grid


def test_same_file_same_key_whatever_its_label(app: tuple[TestClient, str, Recorder]) -> None:
    client, key, upstream = app
    for mime in ("image/jpeg", "image/png", "application/octet-stream"):
        assert _post(client, key, _body(BIG_JPEG, mime)).status_code == 200
    assert len(set(upstream.affinity)) == 1
    assert len(set(upstream.raw)) == 1  # deterministic pre-size: identical bodies upstream


def test_responses_input_image_is_presized_for_its_detail(
    app: tuple[TestClient, str, Recorder],
) -> None:
    client, key, upstream = app
    url = "data:image/jpeg;base64," + base64.b64encode(BIG_JPEG).decode()
    part = {"type": "input_image", "image_url": url, "detail": "low"}
    body = {"model": "m", "input": [{"role": "user", "content": [part]}]}
    r = client.post("/v1/responses", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    sent = upstream.sent
    assert sent["mm_processor_kwargs"] == {"num_crops": 1}
    data = base64.b64decode(sent["input"][0]["content"][0]["image_url"].split(",", 1)[1])
    assert Image.open(io.BytesIO(data)).size == (336, 252)


def test_unknown_detail_is_refused(app: tuple[TestClient, str, Recorder]) -> None:
    client, key, _ = app
    r = _post(client, key, _body(SMALL_PNG, "image/png", "ultra"))
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "messages[0].content[0].image_url.detail"


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (BIG_JPEG[: len(BIG_JPEG) // 2], 400, "image_corrupt"),  # truncated, pre-size path
        (BIG_JPEG[:2000], 400, "image_corrupt"),
        (b"\xff\xd8\xff" + b"\x00" * 500, 400, "image_corrupt"),
        (image_bytes(Image.new("L", (8000, 8000)), "PNG"), 413, "image_too_many_pixels"),
    ],
)
def test_broken_and_bomb_images_are_still_refused(
    tmp_path: Path, data: bytes, status: int, code: str
) -> None:
    client, key, recorder = _app(tmp_path, max_image_pixels=10_000_000)
    with client:
        client.app.state.upstream = recorder  # type: ignore[attr-defined]
        r = _post(client, key, _body(data, "image/png"))
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert recorder.raw == []


def _decode_peak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, requests: int
) -> tuple[int, int]:
    """Send ``requests`` large images at once; return (most decoding at once, slots' peak)."""
    running = most = 0
    lock = threading.Lock()
    real = validate.prepare_image_bytes

    def slow_prepare(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)  # long enough for every request to be waiting by now
            return real(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(validate, "prepare_image_bytes", slow_prepare)
    client, key, recorder = _app(tmp_path, image_decode_concurrency=limit)
    with client:
        client.app.state.upstream = recorder  # type: ignore[attr-defined]
        body = _body(BIG_JPEG, "image/jpeg")
        with ThreadPoolExecutor(requests) as pool:
            codes = list(pool.map(lambda _: _post(client, key, body).status_code, range(requests)))
        peak = client.app.state.decode_slots.peak  # type: ignore[attr-defined]
    assert codes == [200] * requests
    return most, peak


def test_no_more_than_the_configured_number_decode_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _decode_peak(tmp_path, monkeypatch, limit=2, requests=10) == (2, 2)


def test_the_bound_check_would_see_more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same load with a high limit decodes more at once: the test above can fail."""
    most, peak = _decode_peak(tmp_path, monkeypatch, limit=10, requests=10)
    assert most > 2 and peak == most
