"""Schemas by name, for every caller of the pipeline: a 404 that lists the known ones.

The built-ins are known at import time (`lookup_schema`, synchronous); kinds registered
through the API live in the key store's database. A caller finds both through the
`SchemaSource` its `Context` carries (``ctx.schemas.get(name, version)``): the gateway's is
`gateway.custom.SchemaRegistry`; a caller without a database (the Cog predictor with no key
store) gets `BUILTINS`. ``name@2`` pins a version (`split_ref`).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from schemas import SchemaSpec, UnknownSchemaError, get

from ..errors import ErrorCode, GatewayError

__all__ = [
    "BUILTINS",
    "BuiltinSchemas",
    "SchemaSource",
    "find_schema",
    "lookup_schema",
    "split_ref",
]

_REF = re.compile(r"^(?P<name>[^@]+)@(?P<version>[1-9][0-9]{0,8})$")


def lookup_schema(name: str, param: str | None = None) -> SchemaSpec[Any]:
    """The built-in schema ``name``; 404 ``unknown_schema`` listing the known ones."""
    try:
        return get(name)
    except UnknownSchemaError as exc:
        raise GatewayError(404, str(exc), param=param, code=ErrorCode.UNKNOWN_SCHEMA) from None


def split_ref(ref: str) -> tuple[str, int | None]:
    """``"bill_of_lading@2"`` → ``("bill_of_lading", 2)``; a bare name → ``(name, None)``."""
    match = _REF.match(ref)
    return (match["name"], int(match["version"])) if match else (ref, None)


def unknown_version(name: str, version: int, param: str | None) -> GatewayError:
    return GatewayError(
        404,
        f"schema {name!r} has no version {version}",
        param=param,
        code=ErrorCode.UNKNOWN_SCHEMA_VERSION,
    )


class SchemaSource(Protocol):
    """Where the pipeline finds a schema: the latest version, or the one pinned."""

    async def get(
        self, name: str, version: int | None = None, param: str | None = None
    ) -> SchemaSpec[Any]: ...


class BuiltinSchemas:
    """The built-ins alone; each has one version, 1."""

    async def get(
        self, name: str, version: int | None = None, param: str | None = None
    ) -> SchemaSpec[Any]:
        spec = lookup_schema(name, param)
        if version is not None and version != spec.version:
            raise unknown_version(name, version, param)
        return spec


BUILTINS: SchemaSource = BuiltinSchemas()


async def find_schema(
    source: SchemaSource, ref: str, version: int | None = None, param: str | None = None
) -> SchemaSpec[Any]:
    """The schema ``ref`` names (``"bill_of_lading"`` or ``"bill_of_lading@2"``) in
    ``source`` (a `Context`'s ``schemas``); ``version`` pins one where ``ref`` does not.
    What a batch line or a job calls with the name it was given."""
    name, pinned = split_ref(ref)
    return await source.get(name, pinned if pinned is not None else version, param)
