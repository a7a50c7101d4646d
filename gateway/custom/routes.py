"""``/v1/schemas``: the built-in schemas and your own, registered at run time.

    GET    /v1/schemas                      every schema, built-in or not (``builtin``)
    GET    /v1/schemas/{name}[?version=N]   one of them, the latest version or N
    POST   /v1/schemas[?dry_run=true]       register a document type: 201, version 1
    PUT    /v1/schemas/{name}               store its next version
    DELETE /v1/schemas/{name}               remove every version (a built-in, or one that an
                                            unfinished batch pins: 409)

Reading needs the ``extract`` scope, writing the ``schemas`` scope. A registration is
vetted in full (`definition.vet`) and compiled once by the engine (``max_tokens: 1``) before
it is stored, so a schema that would fail does so now, not on a user's first request.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from schemas import SchemaSpec, all_specs, names

from ..auth import ExtractKey, SchemasKey
from ..auth.backend import KeyStoreUnavailable
from ..errors import ErrorCode, GatewayError
from ..openapi import KEYED, error_responses
from ..pipeline.models import SchemaInfo, SchemaList
from ..record import record_of
from .definition import CustomSpec, SchemaDefinition, vet
from .registry import SchemaRegistry, store_unreachable
from .store import SchemaExists, StoredSchema

__all__ = ["SchemaUpdate", "registry_of", "router"]

log = logging.getLogger("gateway.custom")

router = APIRouter(tags=["schemas"], responses=error_responses(*KEYED))


class SchemaUpdate(SchemaDefinition):
    """A new version: the whole definition again; ``name`` may be left out."""

    name: str | None = Field(default=None, description="The path's name, if given.")  # type: ignore[assignment]


def registry_of(request: Request) -> SchemaRegistry:
    registry: SchemaRegistry = request.app.state.schema_registry
    return registry


def builtin_info(spec: SchemaSpec[Any]) -> SchemaInfo:
    return SchemaInfo(
        name=spec.name,
        description=spec.description,
        num_crops=spec.num_crops,
        max_tokens=spec.max_tokens,
        json_schema=spec.json_schema(),
    )


def custom_info(stored: StoredSchema) -> SchemaInfo:
    d = stored.definition
    return SchemaInfo(
        name=stored.name,
        description=d["description"],
        num_crops=d["num_crops"],
        max_tokens=d["max_tokens"],
        json_schema=d["json_schema"],
        builtin=False,
        version=stored.version,
        instructions=d["instructions"],
        merge=d.get("merge"),
        checks=d.get("checks", []),
        transcribed=d.get("transcribed", []),
        required=d.get("required", []),
        created_by=stored.created_by,
        created_at=stored.created_at,
    )


@router.get("/v1/schemas", response_model=SchemaList, summary="List extraction schemas")
async def list_schemas(request: Request, key: ExtractKey) -> SchemaList:
    custom = await registry_of(request).custom()
    return SchemaList(data=[*map(builtin_info, all_specs()), *map(custom_info, custom)])


@router.get(
    "/v1/schemas/{name}",
    response_model=SchemaInfo,
    summary="One extraction schema",
    responses=error_responses(400, 404),  # a bad version; an unknown name or version
)
async def get_schema(
    name: str, request: Request, key: ExtractKey, version: int | None = Query(None, ge=1)
) -> SchemaInfo:
    registry = registry_of(request)
    spec = await registry.get(name, version, param="version" if version else None)
    if isinstance(spec, CustomSpec):
        stored = await registry.stored(name, spec.version)
        if stored is not None:
            return custom_info(stored)
    return builtin_info(spec)


def _builtin(name: str) -> GatewayError:
    return GatewayError(
        409,
        f"{name!r} is a built-in schema; built-ins cannot be registered, changed or deleted",
        param="name",
        code=ErrorCode.SCHEMA_BUILTIN,
    )


async def _compiles(request: Request, definition: dict[str, Any]) -> None:
    """Ask the engine once, ``max_tokens: 1``, so a grammar it cannot compile is a 400 now.
    An engine that cannot be reached does not block a registration (it is logged)."""
    settings = request.app.state.settings
    body = {
        "model": settings.model_name,
        "messages": [{"role": "user", "content": "Reply with JSON."}],
        "max_tokens": 1,
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": definition["name"],
                "schema": definition["json_schema"],
                "strict": True,
            },
        },
    }
    upstream = request.app.state.upstream
    try:
        await upstream.complete_json(json.dumps(body).encode(), record_of(request), "schemas")
    except GatewayError as exc:
        if exc.code == ErrorCode.UPSTREAM_REFUSED and 400 <= exc.status < 500:
            raise GatewayError(
                400,
                f"the engine cannot compile this JSON schema: {exc.message}",
                param="json_schema",
                code=ErrorCode.SCHEMA_INVALID,
            ) from None
        log.warning("schema %s not compiled on the engine: %s", definition["name"], exc.message)


async def _vetted(request: Request, definition: SchemaDefinition) -> dict[str, Any]:
    if definition.name in names():
        raise _builtin(definition.name)
    stored = vet(definition, request.app.state.settings)
    await _compiles(request, stored)
    return stored


@router.post(
    "/v1/schemas",
    response_model=SchemaInfo,
    status_code=201,
    summary="Register a document type",
    responses=error_responses(400, 409),
)
async def create_schema(
    definition: SchemaDefinition,
    request: Request,
    response: Response,
    key: SchemasKey,
    dry_run: bool = Query(False, description="Validate only; nothing is stored."),
) -> SchemaInfo:
    stored = await _vetted(request, definition)
    if dry_run:
        response.status_code = 200
        return custom_info(StoredSchema(definition.name, 1, stored, key.name, 0.0))
    registry = registry_of(request)
    if registry.store is None:  # pragma: no cover - every app has a key store
        raise GatewayError(503, "no schema store", code=ErrorCode.KEY_STORE_UNAVAILABLE)
    try:
        created = await registry.store.create(definition.name, stored, key.name)
    except SchemaExists:
        raise GatewayError(
            409,
            f"a schema named {definition.name!r} exists; PUT /v1/schemas/{definition.name} "
            f"stores a new version",
            param="name",
            code=ErrorCode.SCHEMA_EXISTS,
        ) from None
    except KeyStoreUnavailable as exc:
        raise store_unreachable(exc) from None
    registry.forget(definition.name)
    return custom_info(created)


@router.put(
    "/v1/schemas/{name}",
    response_model=SchemaInfo,
    summary="Store a new version of a registered document type",
    responses=error_responses(400, 404, 409),
)
async def update_schema(
    name: str, update: SchemaUpdate, request: Request, key: SchemasKey
) -> SchemaInfo:
    if name in names():
        raise _builtin(name)
    if update.name is not None and update.name != name:
        raise GatewayError(
            400,
            f"the body's name {update.name!r} is not the path's {name!r}",
            param="name",
            code=ErrorCode.INVALID_VALUE,
        )
    definition = SchemaDefinition.model_validate({**update.model_dump(), "name": name})
    stored = await _vetted(request, definition)
    registry = registry_of(request)
    assert registry.store is not None
    try:
        added = await registry.store.add_version(name, stored, key.name)
    except KeyStoreUnavailable as exc:
        raise store_unreachable(exc) from None
    if added is None:
        raise GatewayError(
            404,
            f"no registered schema named {name!r}; POST /v1/schemas creates it",
            code=ErrorCode.UNKNOWN_SCHEMA,
        )
    registry.forget(name)
    return custom_info(added)


@router.delete(
    "/v1/schemas/{name}",
    summary="Delete a registered document type, every version",
    responses=error_responses(404, 409),
)
async def delete_schema(name: str, request: Request, key: SchemasKey) -> dict[str, Any]:
    if name in names():
        raise _builtin(name)
    batch = getattr(request.app.state, "batch", None)  # None: no Batch API on this store
    if batch is not None and (pending := await batch.store.open_batches(f"/v1/extract/{name}")):
        raise GatewayError(
            409,
            f"schema {name!r} is used by {pending} unfinished batch(es), whose lines pin its "
            f"version; delete it once they end (or cancel them)",
            param="name",
            code=ErrorCode.SCHEMA_IN_USE,
        )
    registry = registry_of(request)
    assert registry.store is not None
    try:
        removed = await registry.store.delete(name)
    except KeyStoreUnavailable as exc:
        raise store_unreachable(exc) from None
    registry.forget(name)
    if not removed:
        raise GatewayError(
            404, f"no registered schema named {name!r}", code=ErrorCode.UNKNOWN_SCHEMA
        )
    return {"object": "schema.deleted", "name": name, "deleted": True, "versions": removed}
