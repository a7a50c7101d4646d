"""Chat and Responses bodies over ``json_steps_threshold_bytes`` are parsed in steps, and what
goes upstream is the same as when they are parsed in one go."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.responses import JSONResponse, Response

import gateway.jsonsteps
from gateway.app import create_app
from gateway.auth.keys import KeyStore
from gateway.settings import Settings
from tests.support.images import image_bytes, make_image

PHOTO = (
    "data:image/jpeg;base64,"
    + base64.b64encode(image_bytes(make_image(1200, 900, seed=3), "JPEG")).decode()
)
BODIES = {
    "/v1/chat/completions": {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": PHOTO}},
                ],
            }
        ],
    },
    "/v1/responses": {
        "model": "m",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is this?"},
                    {"type": "input_image", "image_url": PHOTO},
                ],
            }
        ],
    },
}


class Recorder:
    """Stands in for ``Upstream``: keeps each body as sent."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []

    async def chat(self, body: bytes, *args: Any, **options: Any) -> Response:
        self.raw.append(body)
        return JSONResponse({"ok": True})


def _sent(tmp_path: Path, path: str, threshold: int) -> bytes:
    settings = Settings(
        keys_db=tmp_path / f"k{threshold}.db",
        upstream_url="http://127.0.0.1:9",
        json_steps_threshold_bytes=threshold,
    )
    key = KeyStore(settings.keys_db).create("t", scopes=["chat"])
    recorder = Recorder()
    with TestClient(create_app(settings)) as client:
        client.app.state.upstream = recorder  # type: ignore[attr-defined]
        response = client.post(path, json=BODIES[path], headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
    return recorder.raw[-1]


@pytest.mark.parametrize("path", list(BODIES))
def test_a_large_body_is_parsed_in_steps_and_sent_as_inline(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inline = _sent(tmp_path, path, 1 << 30)
    parsed: list[int] = []
    loads = json.loads

    def recording(text: bytes, **kw: Any) -> Any:
        parsed.append(len(text))
        return loads(text, **kw)

    monkeypatch.setattr(gateway.jsonsteps.json, "loads", recording)
    stepped = _sent(tmp_path, path, 1024)
    assert parsed and max(parsed) < 1024 < len(PHOTO)  # the photo never went through loads
    assert json.loads(stepped) == json.loads(inline)
