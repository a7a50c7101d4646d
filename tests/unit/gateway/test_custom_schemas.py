"""Schemas registered through the API: stored, versioned, served, refused at registration.

The engine is replaced by a stub returning a fixed answer (tests/integration/custom runs
the real one); the key store is a real SQLite file, so a restart is a new app on it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth.keys import KeyStore
from gateway.errors import ErrorCode, GatewayError
from gateway.settings import Settings
from tests.support.bill_of_lading import GOOD_ANSWER, definition
from tests.support.images import data_url, make_image

IMAGE = data_url(make_image(64, 48))


class Engine:
    """Stands in for ``Upstream``: records each request, answers with ``content``."""

    def __init__(self, content: dict[str, Any] | None = None) -> None:
        self.content = json.dumps(content if content is not None else GOOD_ANSWER)
        self.sent: list[dict[str, Any]] = []
        self.refuse: str | None = None

    async def complete_json(
        self, body: bytes, state: Any, route: str, affinity: bytes | None = None
    ) -> dict[str, Any]:
        self.sent.append(json.loads(body))
        if self.refuse is not None:
            raise GatewayError(400, self.refuse, code=ErrorCode.UPSTREAM_REFUSED)
        return {
            "id": "chatcmpl-1",
            "model": "phi-3.5-vision",
            "choices": [{"message": {"content": self.content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
        }


class Gateway:
    def __init__(self, client: TestClient, keys: dict[str, str], engine: Engine) -> None:
        self.client, self.keys, self.engine = client, keys, engine
        client.app.state.upstream = engine  # type: ignore[attr-defined]

    def call(self, method: str, path: str, key: str = "admin", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[key]}"}
        return self.client.request(method, path, headers=headers, **kw)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(keys_db=tmp_path / "k.db", upstream_url="http://127.0.0.1:9")


@pytest.fixture
def keys(settings: Settings) -> dict[str, str]:
    store = KeyStore(settings.keys_db)
    try:
        return {
            "admin": store.create("admin", scopes=["extract", "schemas"]),
            "user": store.create("user", scopes=["extract"]),
        }
    finally:
        store.close()


@pytest.fixture
def gw(settings: Settings, keys: dict[str, str]) -> Iterator[Gateway]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Gateway(client, keys, Engine())


def register(gw: Gateway, **changes: Any) -> httpx.Response:
    return gw.call("POST", "/v1/schemas", json=definition(**changes))


def test_register_returns_version_1_with_the_bounds_it_added(gw: Gateway) -> None:
    r = register(gw)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["name"], body["version"], body["builtin"]) == ("bill_of_lading", 1, False)
    assert body["created_by"] == "admin" and body["created_at"] > 0
    props = body["json_schema"]["properties"]
    # no maxLength reaches xgrammar: it becomes a pattern; an unbounded string gets the default
    assert "maxLength" not in props["bl_number"] and props["bl_number"]["pattern"].endswith(
        "{0,32}$"
    )
    assert props["shipper"]["pattern"].endswith("{0,64}$")
    assert body["json_schema"]["required"] == list(props)  # strict: every field present
    assert body["json_schema"]["additionalProperties"] is False
    assert [c["name"] for c in body["checks"]] == ["weights", "iban", "dates"]
    # the engine was asked once to compile it, one token long
    sent = gw.engine.sent[-1]
    assert sent["max_tokens"] == 1
    assert sent["response_format"]["json_schema"]["schema"] == body["json_schema"]


def test_a_default_bound_is_added_to_an_unbounded_string_and_array(gw: Gateway) -> None:
    d = definition()
    d["json_schema"]["properties"]["note"] = {"type": "string"}
    d["json_schema"]["properties"]["tags"] = {"type": "array", "items": {"type": "string"}}
    r = gw.call("POST", "/v1/schemas", json=d)
    assert r.status_code == 201, r.text
    props = r.json()["json_schema"]["properties"]
    assert props["note"]["pattern"].endswith("{0,128}$")
    assert props["tags"]["maxItems"] == 32 and props["tags"]["items"]["pattern"]


def test_dry_run_validates_and_stores_nothing(gw: Gateway) -> None:
    r = gw.call("POST", "/v1/schemas?dry_run=true", json=definition())
    assert r.status_code == 200 and r.json()["version"] == 1
    assert gw.call("GET", "/v1/schemas/bill_of_lading").status_code == 404


def test_list_marks_builtins_and_registered_schemas(gw: Gateway) -> None:
    assert register(gw).status_code == 201
    listed = {s["name"]: s for s in gw.call("GET", "/v1/schemas", key="user").json()["data"]}
    assert listed["invoice"]["builtin"] is True
    assert listed["bill_of_lading"]["builtin"] is False


def test_extract_with_a_registered_schema(gw: Gateway) -> None:
    schema = register(gw).json()["json_schema"]
    r = gw.call("POST", "/v1/extract/bill_of_lading", key="user", json={"image_url": IMAGE})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["schema"] == "bill_of_lading" and body["schema_version"] == 1
    jsonschema.validate(body["data"], schema)
    assert {c["name"]: c["status"] for c in body["checks"]} == {
        "custom.weights": "pass",
        "custom.iban": "pass",
        "custom.dates": "pass",
    }
    assert body["review_reasons"] == [] or all(
        r["kind"] != "check_failed" for r in body["review_reasons"]
    )
    sent = gw.engine.sent[-1]
    assert sent["response_format"]["json_schema"]["schema"] == schema
    assert "bill of lading" in sent["messages"][-1]["content"][-1]["text"]


def test_a_failed_check_sends_the_answer_to_review(gw: Gateway) -> None:
    register(gw)
    wrong = copy.deepcopy(GOOD_ANSWER)
    wrong["total_gross_weight_kg"] = 1560.7
    gw.engine.content = json.dumps(wrong)
    r = gw.call("POST", "/v1/extract/bill_of_lading", key="user", json={"image_url": IMAGE})
    assert r.status_code == 200, r.text
    checks = {c["name"]: c for c in r.json()["checks"]}
    assert checks["custom.weights"]["status"] == "fail" and r.json()["review"] is True


def test_an_answer_outside_the_registered_schema_is_refused(gw: Gateway) -> None:
    register(gw)
    bad = {**GOOD_ANSWER, "iban": "not an iban"}
    gw.engine.content = json.dumps(bad)
    r = gw.call("POST", "/v1/extract/bill_of_lading", key="user", json={"image_url": IMAGE})
    assert r.status_code == 422 and r.json()["error"]["code"] == "output_invalid"


def test_versions_pin_and_echo(gw: Gateway) -> None:
    register(gw)
    v2 = definition(description="Bill of lading, version 2.", max_tokens=600)
    r = gw.call("PUT", "/v1/schemas/bill_of_lading", json=v2)
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    assert gw.call("GET", "/v1/schemas/bill_of_lading").json()["version"] == 2
    old = gw.call("GET", "/v1/schemas/bill_of_lading?version=1", key="user").json()
    assert old["version"] == 1 and old["max_tokens"] == 512
    latest = gw.call("POST", "/v1/extract/bill_of_lading", key="user", json={"image_url": IMAGE})
    assert latest.json()["schema_version"] == 2 and gw.engine.sent[-1]["max_tokens"] == 600
    pinned = gw.call(
        "POST",
        "/v1/extract/bill_of_lading",
        key="user",
        json={"image_url": IMAGE, "schema_version": 1},
    )
    assert pinned.json()["schema_version"] == 1 and gw.engine.sent[-1]["max_tokens"] == 512
    many = gw.call(
        "POST",
        "/v1/extract",
        key="user",
        json={"image_url": IMAGE, "schemas": ["bill_of_lading@1", "people_count"]},
    )
    assert many.status_code == 200, many.text
    assert many.json()["results"]["bill_of_lading"]["schema_version"] == 1
    missing = gw.call(
        "POST",
        "/v1/extract/bill_of_lading",
        key="user",
        json={"image_url": IMAGE, "schema_version": 3},
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_schema_version"


def test_verify_runs_the_registered_checks(gw: Gateway) -> None:
    register(gw)
    ok = gw.call("POST", "/v1/verify/bill_of_lading", key="user", json=GOOD_ANSWER)
    assert ok.status_code == 200 and ok.json()["review"] is False, ok.text
    assert ok.json()["schema_version"] == 1
    late = {**GOOD_ANSWER, "shipped_on_board": "2024-03-06"}
    r = gw.call("POST", "/v1/verify/bill_of_lading", key="user", json=late)
    assert {c["name"]: c["status"] for c in r.json()["checks"]}["custom.dates"] == "fail"


def test_delete_removes_every_version(gw: Gateway) -> None:
    register(gw)
    gw.call("PUT", "/v1/schemas/bill_of_lading", json=definition())
    r = gw.call("DELETE", "/v1/schemas/bill_of_lading")
    assert r.status_code == 200 and r.json()["versions"] == 2
    assert gw.call("GET", "/v1/schemas/bill_of_lading").status_code == 404
    r = gw.call("POST", "/v1/extract/bill_of_lading", key="user", json={"image_url": IMAGE})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_schema"
    assert gw.call("DELETE", "/v1/schemas/bill_of_lading").status_code == 404


def test_a_registered_schema_survives_a_restart(settings: Settings, keys: dict[str, str]) -> None:
    with TestClient(create_app(settings)) as client:
        assert register(Gateway(client, keys, Engine())).status_code == 201
    with TestClient(create_app(settings)) as client:
        again = Gateway(client, keys, Engine())
        r = again.call("POST", "/v1/extract/bill_of_lading", key="user", json={"image_url": IMAGE})
        assert r.status_code == 200 and r.json()["schema_version"] == 1, r.text


def test_a_name_is_registered_once(gw: Gateway) -> None:
    assert register(gw).status_code == 201
    r = register(gw)
    assert r.status_code == 409 and r.json()["error"]["code"] == "schema_exists"


def test_put_on_an_unknown_name_is_404(gw: Gateway) -> None:
    r = gw.call("PUT", "/v1/schemas/bill_of_lading", json=definition())
    assert r.status_code == 404


def _unbounded_pattern(d: dict[str, Any]) -> None:
    d["json_schema"]["properties"]["shipper"] = {"type": "string", "pattern": "^[A-Z]+$"}


def _too_long(d: dict[str, Any]) -> None:
    d["json_schema"]["properties"]["shipper"] = {"type": "string", "maxLength": 500}


def _unique(d: dict[str, Any]) -> None:
    d["json_schema"]["properties"]["packages"]["uniqueItems"] = True


def _deep(d: dict[str, Any]) -> None:
    node: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 9}
    for _ in range(14):
        node = {"type": "object", "properties": {"x": node}}
    d["json_schema"]["properties"]["nested"] = node


def _too_many_items(d: dict[str, Any]) -> None:
    d["json_schema"]["properties"]["packages"]["maxItems"] = 10_000


def _check(**fields: Any) -> Any:
    def change(d: dict[str, Any]) -> None:
        d["checks"] = [{"name": "x", **fields}]

    return change


REFUSALS = [
    ("unique_items", _unique, 400, "schema_unsupported_keyword",
     "json_schema/properties/packages"),
    ("unbounded_pattern", _unbounded_pattern, 400, "schema_unbounded",
     "json_schema/properties/shipper"),
    ("string_over_128", _too_long, 400, "schema_unbounded", "json_schema/properties/shipper"),
    ("array_over_limit", _too_many_items, 400, "schema_unbounded",
     "json_schema/properties/packages"),
    ("too_deep", _deep, 400, "schema_too_deep", "json_schema"),
    ("unknown_check_type", _check(type="ratio"), 400, "unknown_check_type", "checks[0].type"),
    ("unknown_stdnum_format", _check(type="identifier", field="/iban", format="xx.nosuch"),
     400, "unknown_identifier_format", "checks[0].format"),
    ("nonlinear_expression",
     _check(type="expression", expr="/total_gross_weight_kg * /total_gross_weight_kg = 1"),
     400, "nonlinear_expression", "checks[0].expr"),
    ("pointer_not_a_field", _check(type="sum", items="/parcels/*/kg", equals="/iban"),
     400, "invalid_check", "checks[0].items"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "status", "code", "param"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_registration_refusals(
    gw: Gateway, change: Any, status: int, code: str, param: str
) -> None:
    d = definition()
    change(d)
    r = gw.call("POST", "/v1/schemas", json=d)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    assert gw.call("GET", "/v1/schemas/bill_of_lading").status_code == 404


def test_a_builtins_name_is_refused(gw: Gateway) -> None:
    r = register(gw, name="invoice")
    assert r.status_code == 409
    assert (r.json()["error"]["code"], r.json()["error"]["param"]) == ("schema_builtin", "name")
    r = gw.call("DELETE", "/v1/schemas/invoice")
    assert r.status_code == 409 and r.json()["error"]["code"] == "schema_builtin"
    assert gw.call("PUT", "/v1/schemas/invoice", json=definition()).status_code == 409


def test_writes_need_the_schemas_scope(gw: Gateway) -> None:
    r = gw.call("POST", "/v1/schemas", key="user", json=definition())
    assert r.status_code == 403 and r.json()["error"]["code"] == "missing_scope"
    assert gw.call("DELETE", "/v1/schemas/bill_of_lading", key="user").status_code == 403


def test_an_engine_compile_error_is_a_400(gw: Gateway) -> None:
    gw.engine.refuse = "grammar compilation failed"
    r = register(gw)
    assert r.status_code == 400 and r.json()["error"]["code"] == "schema_invalid"
    assert "grammar compilation failed" in r.json()["error"]["message"]


def test_a_malformed_name_is_refused(gw: Gateway) -> None:
    r = register(gw, name="Bill Of Lading")
    assert r.status_code in (400, 422) and r.json()["error"]["param"] in ("name", "body.name")
