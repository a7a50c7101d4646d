"""The pipeline's one entry point runs with plain inputs: no request, no app, no HTTP."""

from __future__ import annotations

import json

import pytest

from gateway.errors import GatewayError
from gateway.pipeline import extract, extract_many, load_source, lookup_schema
from gateway.pipeline.models import ExtractRequest, ExtractResponse, MultiExtractRequest
from tests.support.images import data_url, make_image
from tests.support.scripted_upstream import ScriptedUpstream

from .conftest import MakeContext

pytestmark = pytest.mark.anyio


async def test_one_image_gives_the_typed_result(make_context: MakeContext) -> None:
    spec = lookup_schema("object_count")
    url = data_url(make_image(64, 48))
    upstream = ScriptedUpstream({})
    ctx = make_context(upstream)
    image = await load_source(ctx, image_url=url, image_urls=None, upload=None, num_crops=4)
    answer = json.dumps(spec.example.model_dump(mode="json"))
    upstream.answers[image.digest] = answer  # type: ignore[union-attr]
    req = ExtractRequest(image_url=url, confidence=False)
    result = await extract(ctx, spec, req, image, 4)
    assert isinstance(result, ExtractResponse)
    assert result.data == spec.example
    assert result.review is False and result.review_reasons == []
    sent = upstream.bodies[0]
    assert sent["response_format"]["json_schema"]["name"] == "object_count"


async def test_several_schemas_share_one_input(make_context: MakeContext) -> None:
    specs = [lookup_schema("object_count"), lookup_schema("people_count")]
    url = data_url(make_image(64, 48))
    upstream = ScriptedUpstream({})
    ctx = make_context(upstream)
    image = await load_source(ctx, image_url=url, image_urls=None, upload=None, num_crops=4)

    def by_schema(body: dict[str, object]) -> str:
        name = body["response_format"]["json_schema"]["name"]  # type: ignore[index]
        return json.dumps(lookup_schema(str(name)).example.model_dump(mode="json"))

    upstream.answers[image.digest] = by_schema  # type: ignore[union-attr]
    req = MultiExtractRequest(image_url=url, schemas=[s.name for s in specs], confidence=False)
    result = await extract_many(ctx, specs, req, image, 4)
    assert list(result.results) == ["object_count", "people_count"]
    assert all(o.status == 200 and o.review is False for o in result.results.values())


async def test_an_unknown_schema_is_a_404_naming_the_known_ones() -> None:
    with pytest.raises(GatewayError) as caught:
        lookup_schema("bill_of_lading")
    assert caught.value.status == 404 and "invoice" in str(caught.value)


async def test_the_gateway_default_sampling_applies_when_a_request_names_none(
    make_context: MakeContext,
) -> None:
    spec = lookup_schema("object_count")
    url = data_url(make_image(64, 48))
    upstream = ScriptedUpstream({})
    ctx = make_context(upstream)
    ctx.settings = ctx.settings.model_copy(
        update={"extract_default_temperature": 1.0, "extract_default_seed": 7}
    )
    image = await load_source(ctx, image_url=url, image_urls=None, upload=None, num_crops=4)
    upstream.answers[image.digest] = json.dumps(spec.example.model_dump(mode="json"))  # type: ignore[union-attr]
    await extract(ctx, spec, ExtractRequest(image_url=url, confidence=False), image, 4)
    await extract(
        ctx,
        spec,
        ExtractRequest(image_url=url, confidence=False, temperature=0.0, seed=3, top_p=0.9),
        image,
        4,
    )
    defaulted, named = upstream.bodies
    assert (defaulted["temperature"], defaulted["seed"]) == (1.0, 7)
    assert "top_p" not in defaulted  # the engine's own default
    assert (named["temperature"], named["seed"], named["top_p"]) == (0.0, 3, 0.9)
