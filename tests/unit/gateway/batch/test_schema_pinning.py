"""An extraction batch on a registered schema keeps the version it was created with: a `PUT`
after the batch does not change how its lines are read, and the schema cannot be deleted
under it. The engine is a stand-in returning a fixed answer (the lines' data is not what is
tested); the store is the real SQLite file and the claim loop the real one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth.keys import KeyStore
from gateway.settings import Settings
from tests.support.bill_of_lading import definition
from tests.support.images import data_url, make_image

from ..test_custom_schemas import Engine

IMAGE = data_url(make_image(64, 48))
ENDPOINT = "/v1/extract/bill_of_lading"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(keys_db=tmp_path / "k.db", upstream_url="http://127.0.0.1:9", batch_poll_s=0.05)


def test_a_batch_reads_its_lines_with_the_version_it_was_created_with(settings: Settings) -> None:
    store = KeyStore(settings.keys_db)
    key = store.create("admin", scopes=["extract", "schemas"])
    store.close()
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        engine = Engine()
        client.app.state.upstream = engine  # type: ignore[attr-defined]
        client.app.state.batch.worker.runner.upstream = engine  # type: ignore[attr-defined]
        r = client.post("/v1/schemas", json=definition(), headers=headers)
        assert r.status_code == 201, r.text
        lines = [
            {"custom_id": f"l{i}", "method": "POST", "url": ENDPOINT,
             "body": {"image_url": IMAGE, "confidence": False}}
            for i in range(2)
        ]  # fmt: skip
        text = "\n".join(json.dumps(line) for line in lines).encode()
        files = {"file": ("in.jsonl", text, "application/jsonl")}
        uploaded = client.post("/v1/files", data={"purpose": "batch"}, files=files, headers=headers)
        assert uploaded.status_code == 200, uploaded.text
        body = {"input_file_id": uploaded.json()["id"], "endpoint": ENDPOINT,
                "completion_window": "24h"}  # fmt: skip
        created = client.post("/v1/batches", json=body, headers=headers)
        assert created.status_code == 200, created.text
        batch_id = created.json()["id"]
        r = client.put("/v1/schemas/bill_of_lading", json=definition(), headers=headers)
        assert r.status_code == 200 and r.json()["version"] == 2, r.text
        deleted = client.delete("/v1/schemas/bill_of_lading", headers=headers)
        assert deleted.status_code == 409 and deleted.json()["error"]["code"] == "schema_in_use"
        deadline = time.monotonic() + 30
        while (batch := client.get(f"/v1/batches/{batch_id}", headers=headers).json())[
            "status"
        ] not in ("completed", "failed"):
            assert time.monotonic() < deadline, batch
            time.sleep(0.05)
        assert batch["status"] == "completed" and batch["request_counts"]["completed"] == 2
        out = client.get(f"/v1/files/{batch['output_file_id']}/content", headers=headers)
        results = [json.loads(line) for line in out.text.splitlines()]
        assert [r["response"]["body"]["schema_version"] for r in results] == [1, 1]
        # a request after the PUT reads with the new version
        now = client.post(ENDPOINT, json={"image_url": IMAGE, "confidence": False}, headers=headers)
        assert now.status_code == 200 and now.json()["schema_version"] == 2, now.text
        deleted = client.delete("/v1/schemas/bill_of_lading", headers=headers)
        assert deleted.status_code == 200, deleted.text


def test_a_batch_on_an_unknown_schema_is_refused_when_it_is_created(settings: Settings) -> None:
    store = KeyStore(settings.keys_db)
    key = store.create("admin", scopes=["extract"])
    store.close()
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        line = {"custom_id": "a", "method": "POST", "url": "/v1/extract/nothing", "body": {}}
        files = {"file": ("in.jsonl", json.dumps(line).encode(), "application/jsonl")}
        uploaded = client.post("/v1/files", data={"purpose": "batch"}, files=files, headers=headers)
        body = {"input_file_id": uploaded.json()["id"], "endpoint": "/v1/extract/nothing",
                "completion_window": "24h"}  # fmt: skip
        created = client.post("/v1/batches", json=body, headers=headers)
        assert created.status_code == 404, created.text
        assert created.json()["error"]["param"] == "endpoint"
