"""A key's ``max_concurrent`` bounds its calls in flight to the engine, whatever the mix:
several requests, several schemas each, several pages each. Pages wait for a slot; they are
not refused. The upstream counts its concurrent calls (a scripted stand-in: the count is
what the test is about)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth.keys import KeyStore
from gateway.pipeline import lookup_schema
from gateway.settings import Settings
from tests.support.images import data_url, make_image
from tests.support.scripted_upstream import ScriptedUpstream

SCHEMAS = ["object_count", "people_count", "scene"]
PAGES = [data_url(make_image(96, 72, seed=n)) for n in (1, 2)]


def _answer(body: dict[str, Any]) -> str:
    name = body["response_format"]["json_schema"]["name"]
    return json.dumps(lookup_schema(name).example.model_dump(mode="json"))


class AnyImage(dict[bytes | None, Any]):
    """Every routing key gets the schema's example."""

    def __missing__(self, key: bytes | None) -> Any:
        return _answer


def test_a_key_never_has_more_engine_calls_in_flight_than_its_limit(tmp_path: Path) -> None:
    settings = Settings(keys_db=tmp_path / "k.db", upstream_url="http://127.0.0.1:9")
    key = KeyStore(settings.keys_db).create("t", scopes=["extract"], max_concurrent=2)
    upstream = ScriptedUpstream({}, delay_s=0.05)
    upstream.answers = AnyImage()
    body = {"image_urls": PAGES, "schemas": SCHEMAS, "confidence": False}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.app.state.upstream = upstream  # type: ignore[attr-defined]

        def call(_: int) -> httpx.Response:
            headers = {"Authorization": f"Bearer {key}"}
            return client.post("/v1/extract", json=body, headers=headers)

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(call, range(2)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses[0] == 200 and set(statuses) <= {200, 429}
    for answer in answers:
        if answer.status_code == 200:
            results = answer.json()["results"]
            assert all(r["status"] == 200 for r in results.values())  # no page refused
            assert all(len(r["pages"]) == 2 for r in results.values())
    calls = 2 * len(SCHEMAS) * statuses.count(200)
    assert sum(upstream.calls.values()) == calls
    assert upstream.most_in_flight == 2  # bounded, and the request did use its two slots
