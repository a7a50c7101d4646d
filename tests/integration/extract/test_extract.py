"""The extraction API and structured outputs through the real gateway and vLLM CPU engine.

Random weights make the answers meaningless, yet every answer must validate: guided decoding
plus bounded schemas make that hold, and these tests check it for every registered schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import httpx
import openai
import pytest
from pydantic import BaseModel, ConfigDict, Field

import schemas
from serve.phi3v import num_image_tokens
from tests.support.gateway_server import GatewayServer
from tests.support.images import data_url, image_bytes, make_image

pytestmark = pytest.mark.engine

PEOPLE_PROMPT = (
    "Tell me how many people are in this image. Your answer should be just a single number, "
    'for example "2". When I ask you how many people are in the image you must only output a '
    "number with no additional text. For example if I asked you how many people were in an "
    'image and there were 2 people you would only respond with "2".'
)
SUBJECTS_PROMPT = (
    "Count the number of subjects in the image. There will be an obvious background and "
    "foreground, and you will tell me how many objects you see in the foreground. Your answer "
    'should be just a single number, for example "2". When I ask you how many people are in '
    "the image you must only output a number with no additional text. For example if I asked "
    "you how many people were in an image and there were 2 people you would only respond "
    'with "2".'
)
IMAGE = make_image(1024, 768, seed=11)
IMAGE_URL = data_url(IMAGE)
SAMPLED = {"temperature": 1.0, "seed": 7}
"""Greedy decoding of random weights is degenerate (it keeps choosing "," over "]" until
every bound is full and max_tokens runs out: the API's clear 422). Sampling with a fixed seed
behaves like a model that ends its lists, reproducibly."""


@pytest.fixture(scope="module")
def api(engine_gateway: GatewayServer) -> Iterator[httpx.Client]:
    key = engine_gateway.create_key("extract-tests", scopes=["chat", "extract"])
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=engine_gateway.base_url, headers=headers, timeout=300) as c:
        yield c


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, object]:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def test_schemas_are_listed_with_their_json_schema(api: httpx.Client) -> None:
    listed = [s for s in api.get("/v1/schemas").json()["data"] if s["builtin"]]
    assert [s["name"] for s in listed] == list(schemas.names())
    for entry in listed:
        assert entry["json_schema"] == schemas.get(entry["name"]).json_schema()
    one = api.get("/v1/schemas/passport").json()
    assert one["num_crops"] == 16 and one["json_schema"]["additionalProperties"] is False


def test_unknown_schema_is_404_and_lists_known_names(api: httpx.Client) -> None:
    for r in (
        api.get("/v1/schemas/visa"),
        api.post("/v1/extract/visa", json={"image_url": IMAGE_URL}),
    ):
        error = assert_error(r, 404, "unknown_schema")
        assert "passport" in str(error["message"]) and "image_insight" in str(error["message"])


@pytest.mark.parametrize("name", schemas.names())
def test_every_schema_validates_from_a_data_url(api: httpx.Client, name: str) -> None:
    spec = schemas.get(name)
    r = api.post(f"/v1/extract/{name}", json={"image_url": IMAGE_URL, **SAMPLED})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["schema"] == name and body["finish_reason"] == "stop"
    spec.model.model_validate(body["data"])
    assert body["usage"]["completion_tokens"] <= spec.max_tokens
    # the image went in at the schema's recommended crop count
    assert body["usage"]["prompt_tokens"] > num_image_tokens(*IMAGE.size, spec.num_crops)


@pytest.mark.parametrize("name", schemas.names())
def test_every_schema_validates_from_an_upload(api: httpx.Client, name: str) -> None:
    files = {"image": ("page.jpg", image_bytes(IMAGE, "JPEG"), "image/jpeg")}
    fields = {"hint": "a test page", **{k: str(v) for k, v in SAMPLED.items()}}
    r = api.post(f"/v1/extract/{name}", files=files, data=fields)
    assert r.status_code == 200, r.text
    schemas.get(name).model.model_validate(r.json()["data"])


@pytest.mark.parametrize(
    ("name", "prompt"), [("people_count", PEOPLE_PROMPT), ("object_count", SUBJECTS_PROMPT)]
)
def test_counting_prompts_word_for_word(api: httpx.Client, name: str, prompt: str) -> None:
    assert prompt in schemas.get(name).instructions
    photo = data_url(make_image(640, 480, seed=21))
    r = api.post(f"/v1/extract/{name}", json={"image_url": photo, "hint": prompt})
    assert r.status_code == 200, r.text
    count = r.json()["data"]["count"]
    assert isinstance(count, int) and count >= 0


def test_several_schemas_on_one_image(api: httpx.Client) -> None:
    r = api.post(
        "/v1/extract",
        json={"image_url": IMAGE_URL, "schemas": ["passport", "image_insight"], **SAMPLED},
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert list(results) == ["passport", "image_insight"]
    for name, outcome in results.items():
        assert outcome["status"] == 200, outcome
        schemas.get(name).model.model_validate(outcome["data"])


def test_several_schemas_with_an_unknown_name(api: httpx.Client) -> None:
    r = api.post("/v1/extract", json={"image_url": IMAGE_URL, "schemas": ["scene", "visa"]})
    assert assert_error(r, 404, "unknown_schema")["param"] == "schemas[1]"


def test_too_small_max_tokens_is_a_clear_422(api: httpx.Client) -> None:
    r = api.post("/v1/extract/invoice", json={"image_url": IMAGE_URL, "max_tokens": 5})
    error = assert_error(r, 422, "output_truncated")
    assert "invoice" in str(error["message"]) and "max_tokens=5" in str(error["message"])
    details = error["details"]
    assert isinstance(details, dict) and details["usage"]["completion_tokens"] == 5
    assert "data" not in r.json()  # never a half object


def test_bad_image_names_the_field(api: httpx.Client) -> None:
    r = api.post("/v1/extract/scene", json={"image_url": "data:image/png;base64,bm90IGFuIGltYWdl"})
    assert assert_error(r, 400)["param"] == "image_url"
    files = {"image": ("x.png", b"not an image at all", "image/png")}
    assert assert_error(api.post("/v1/extract/scene", files=files), 400)["param"] == "image"


def test_no_image_is_refused(api: httpx.Client) -> None:
    assert assert_error(api.post("/v1/extract/scene", json={"hint": "x"}), 400)["param"] == (
        "image_url"
    )
    r = api.post("/v1/extract/scene", files={"hint": (None, "no file here")})
    assert assert_error(r, 400, "image_missing")["param"] == "image"


def test_empty_hint_is_the_same_as_no_hint(api: httpx.Client) -> None:
    plain = api.post("/v1/extract/people_count", json={"image_url": IMAGE_URL})
    empty = api.post("/v1/extract/people_count", json={"image_url": IMAGE_URL, "hint": "  "})
    assert plain.status_code == empty.status_code == 200
    assert plain.json()["usage"]["prompt_tokens"] == empty.json()["usage"]["prompt_tokens"]


def test_extract_needs_the_extract_scope(engine_gateway: GatewayServer) -> None:
    key = engine_gateway.create_key("chat-only", scopes=["chat"])
    r = httpx.post(
        engine_gateway.base_url + "/v1/extract/scene",
        json={"image_url": IMAGE_URL},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert_error(r, 403, "missing_scope")


def test_openapi_shows_typed_data_per_schema(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    for name in schemas.names():
        response = doc["paths"][f"/v1/extract/{name}"]["post"]["responses"]["200"]
        # one image: ExtractResponse[Model]; a document: DocumentResponse[Model]
        shapes = response["content"]["application/json"]["schema"]["anyOf"]
        for shape in shapes:
            ref = shape["$ref"].split("/")[-1]
            data = doc["components"]["schemas"][ref]["properties"]["data"]
            refs = [data.get("$ref")] + [a.get("$ref") for a in data.get("anyOf", [])]
            assert f"#/components/schemas/{schemas.get(name).model.__name__}" in refs, data
        assert len(shapes) == 2


class Sighting(BaseModel):
    """A user's own model, bounded so that random weights still finish."""

    model_config = ConfigDict(extra="forbid")
    animals: int = Field(ge=0, le=100)
    weather: Literal["sunny", "rainy", "unknown"]
    note: str = Field(pattern=r"^[A-Za-z0-9 ,.]{0,40}$")  # not max_length: see test_engine.py


@pytest.fixture(scope="module")
def sdk(engine_gateway: GatewayServer) -> Iterator[openai.OpenAI]:
    key = engine_gateway.create_key("parse-tests", scopes=["chat"])
    with openai.OpenAI(base_url=engine_gateway.base_url + "/v1", api_key=key) as client:
        yield client


def test_sdk_parse_returns_the_users_model(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.parse(
        model="phi-3.5-vision",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": IMAGE_URL}},
                    {"type": "text", "text": "Describe the animals and the weather."},
                ],
            }
        ],
        response_format=Sighting,
        max_tokens=200,
    )
    assert isinstance(completion.choices[0].message.parsed, Sighting)


def test_unsupported_schema_keyword_is_refused_by_name(sdk: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}},
        "required": ["tags"],
        "additionalProperties": False,
    }
    with pytest.raises(openai.BadRequestError, match="uniqueItems") as caught:
        sdk.chat.completions.create(
            model="phi-3.5-vision",
            messages=[{"role": "user", "content": "tags"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "t", "schema": schema, "strict": True},
            },
        )
    assert caught.value.param == "response_format.json_schema.schema"


def test_too_deep_schema_is_refused(sdk: openai.OpenAI) -> None:
    schema: dict[str, object] = {"type": "string"}
    for _ in range(20):
        schema = {
            "type": "object",
            "properties": {"x": schema},
            "required": ["x"],
            "additionalProperties": False,
        }
    with pytest.raises(openai.BadRequestError, match="levels deep"):
        sdk.chat.completions.create(
            model="phi-3.5-vision",
            messages=[{"role": "user", "content": "x"}],
            response_format={"type": "json_schema", "json_schema": {"name": "d", "schema": schema}},
        )
