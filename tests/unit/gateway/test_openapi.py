"""The OpenAPI document tells a generated client the error shape, each status and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.settings import Settings

OPEN = {"/health", "/ready"}
"""Routes meant for probes: no key."""


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    keys_db = Path(tmp_path_factory.mktemp("openapi")) / "keys.db"
    return create_app(Settings(keys_db=keys_db)).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()
    ]


def test_every_route_but_the_probes_declares_the_bearer_key(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["GatewayKey"]["scheme"] == "bearer"
    for method, path, op in _operations(document):
        secured = op.get("security") == [{"GatewayKey": []}]
        assert secured == (path not in OPEN), f"{method} {path}"
        if secured:
            assert "401" in op["responses"], f"{method} {path}"


def test_every_error_status_has_the_envelope_schema(document: dict[str, Any]) -> None:
    envelope = document["components"]["schemas"]["ErrorResponse"]
    assert envelope["required"] == ["error"]
    info = document["components"]["schemas"]["ErrorInfo"]
    assert set(info["required"]) == {"message", "type", "param", "code"}
    for method, path, op in _operations(document):
        for status, entry in op["responses"].items():
            if status.startswith("2"):
                continue
            schema = entry["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)


def test_fastapis_own_validation_422_is_gone(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    schema_one = document["paths"]["/v1/schemas/{name}"]["get"]["responses"]
    assert "422" not in schema_one and "404" in schema_one


@pytest.mark.parametrize(
    "method,path,statuses",
    [
        ("post", "/v1/chat/completions", {400, 401, 403, 404, 413, 422, 429, 502, 503, 504}),
        ("post", "/v1/responses", {400, 401, 403, 404, 413, 422, 429, 502, 503, 504}),
        # 202: with Prefer: respond-async, an extraction job (docs/jobs.md)
        ("post", "/v1/extract/passport", {202, 400, 401, 403, 404, 413, 422, 429, 502, 503, 504}),
        ("post", "/v1/extract", {202, 400, 401, 403, 404, 413, 422, 429, 502, 503, 504}),
        ("post", "/v1/verify/{name}", {400, 401, 403, 404, 413, 422, 429, 503}),
        ("post", "/v1/documents/preview", {400, 401, 403, 413, 429, 503}),
        ("get", "/v1/schemas", {401, 403, 429, 503}),
        ("get", "/v1/me", {401, 429, 503}),
        ("get", "/v1/models", {401, 403, 429, 502, 503, 504}),
        ("get", "/ready", {503}),
        ("get", "/metrics", {401, 503}),
    ],
)
def test_routes_declare_the_statuses_they_answer(
    document: dict[str, Any], method: str, path: str, statuses: set[int]
) -> None:
    declared = {int(s) for s in document["paths"][path][method]["responses"]} - {200}
    assert declared == statuses


def test_metrics_declares_its_real_content_type(tmp_path: Path) -> None:
    app = create_app(Settings(keys_db=tmp_path / "keys.db", metrics_public=True))
    declared = app.openapi()["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    with TestClient(app) as client:
        served = client.get("/metrics").headers["content-type"]
    assert list(declared) == [served.split(";")[0]]
