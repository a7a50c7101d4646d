"""JSON Schema helpers for guided decoding: strict form, xgrammar support check, depth.

Three jobs, all pure functions over plain dicts so the gateway can use them without the
``openai`` package or xgrammar installed:

- `strict_json_schema` / `to_strict`: the schema we send to vLLM, transformed exactly as the
  ``openai`` SDK does for ``response_format=Model`` (``openai.lib._pydantic.
  to_strict_json_schema``): every property required (optional ones stay nullable via
  ``anyOf [T, null]``), ``additionalProperties: false`` on every object, ``$defs`` kept,
  ``$ref`` with sibling keys inlined, ``default: null`` dropped. Our own schemas and those the
  SDK sends through ``/v1/chat/completions`` therefore look alike.
- `find_unsupported_keywords`: keywords xgrammar (0.2.8, as vLLM 0.32 uses it) cannot enforce.
  Most of them it does not reject but silently ignores, so the answer would parse yet break
  the user's schema; vLLM itself refuses several with a 400. The gateway names them in its own
  400 instead, before the engine sees the schema.
- `schema_depth`: nesting of the schema document, the quantity vLLM caps (at 64) because
  xgrammar has no compile timeout.

    >>> find_unsupported_keywords({"type": "array", "uniqueItems": True})
    ['#: uniqueItems']
    >>> schema_depth({"type": "object", "properties": {"a": {"type": "string"}}})
    3
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

__all__ = [
    "SUPPORTED_STRING_FORMATS",
    "UNSUPPORTED_KEYWORDS",
    "find_unsupported_keywords",
    "schema_depth",
    "strict_json_schema",
    "to_strict",
]

UNSUPPORTED_KEYWORDS: Mapping[str, str] = {
    "multipleOf": "ignored for numbers by xgrammar; refused by vLLM",
    "uniqueItems": "ignored by xgrammar; refused by vLLM",
    "contains": "ignored by xgrammar; refused by vLLM",
    "minContains": "refused by vLLM",
    "maxContains": "refused by vLLM",
    "minProperties": "compile error in strict mode when above the declared properties",
    "maxProperties": "kept out with minProperties; not portable across backends",
    "propertyNames": "refused by vLLM next to properties or patternProperties",
    "patternProperties": "refused by vLLM next to properties",
    "not": "ignored by xgrammar",
    "if": "ignored by xgrammar",
    "then": "ignored by xgrammar",
    "else": "ignored by xgrammar",
    "dependentRequired": "ignored by xgrammar",
    "dependentSchemas": "ignored by xgrammar",
    "dependencies": "ignored by xgrammar",
    "$dynamicRef": "not resolved by xgrammar",
    "$recursiveRef": "not resolved by xgrammar",
}
"""Keywords refused wherever they appear, with why. Checked against xgrammar 0.2.8."""

SUPPORTED_STRING_FORMATS = frozenset(
    {
        "email", "date", "time", "date-time", "duration", "ipv4", "ipv6", "hostname",
        "uuid", "uri", "uri-reference", "uri-template", "json-pointer",
        "relative-json-pointer",
    }
)  # fmt: skip
"""String formats xgrammar enforces (vLLM's ``STRING_SUPPORTED_FORMATS``); others are refused."""

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = (
    "items", "additionalItems", "additionalProperties", "unevaluatedProperties",
    "unevaluatedItems", "contains", "propertyNames", "not", "if", "then", "else",
    "contentSchema",
)  # fmt: skip
_REGEX_UNSUPPORTED = re.compile(r"\(\?<?[=!]|\\[1-9]|\\k<")
_LENGTH_KEYS = ("minLength", "maxLength")


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The strict JSON Schema of ``model``, as the OpenAI SDK would send it."""
    return to_strict(model.model_json_schema())


def to_strict(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A strict copy of ``schema`` (the input is left untouched); see the module docstring."""
    root = copy.deepcopy(dict(schema))
    return _ensure_strict(root, root)


def _ensure_strict(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Mirror of the SDK's ``_ensure_strict_json_schema``, mutating ``node`` in place."""
    for defs_key in ("$defs", "definitions"):
        defs = node.get(defs_key)
        if isinstance(defs, dict):
            for sub in defs.values():
                _ensure_strict(_as_dict(sub), root)
    if node.get("type") == "object" and "additionalProperties" not in node:
        node["additionalProperties"] = False
    properties = node.get("properties")
    if isinstance(properties, dict):
        node["required"] = list(properties)
        node["properties"] = {k: _ensure_strict(_as_dict(v), root) for k, v in properties.items()}
    items = node.get("items")
    if isinstance(items, dict):
        node["items"] = _ensure_strict(items, root)
    any_of = node.get("anyOf")
    if isinstance(any_of, list):
        node["anyOf"] = [_ensure_strict(_as_dict(v), root) for v in any_of]
    all_of = node.get("allOf")
    if isinstance(all_of, list):
        if len(all_of) == 1:
            node.update(_ensure_strict(_as_dict(all_of[0]), root))
            node.pop("allOf")
        else:
            node["allOf"] = [_ensure_strict(_as_dict(v), root) for v in all_of]
    if "default" in node and node["default"] is None:
        node.pop("default")
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1:
        # A $ref with siblings (e.g. a description) is inlined; the node's own keys win.
        resolved = _resolve_ref(root, ref)
        node.update({**copy.deepcopy(resolved), **node})
        node.pop("$ref")
        return _ensure_strict(node, root)
    return node


def _as_dict(value: object) -> dict[str, Any]:
    """Subschemas must be objects in strict mode (the SDK raises TypeError too)."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON Schema object, got {value!r}")
    return value


def _resolve_ref(root: dict[str, Any], ref: str) -> dict[str, Any]:
    """Follow a local ``#/...`` reference; anything else cannot be inlined."""
    if not ref.startswith("#/"):
        raise ValueError(f"unexpected $ref {ref!r}: only local '#/...' references are supported")
    target: Any = root
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or key not in target:
            raise ValueError(f"$ref {ref!r} does not resolve")
        target = target[key]
    return _as_dict(target)


def find_unsupported_keywords(schema: Mapping[str, Any]) -> list[str]:
    """Every keyword in ``schema`` that xgrammar cannot enforce, as ``"<pointer>: <keyword>"``.

    The pointer is a JSON pointer (``#`` is the root) to the schema object holding the keyword;
    some entries add a detail in parentheses, e.g. ``"#/properties/d: format (value 'binary')"``.
    The walk follows only schema positions, so a property *named* ``format`` or the contents of
    ``enum``/``const``/``default``/``examples`` are never mistaken for keywords. It is
    iterative, so a hostile, deeply nested schema cannot exhaust the recursion limit.
    An empty list means the schema is safe to send.
    """
    found: list[str] = []
    for pointer, node in _walk_schemas(schema):
        found.extend(f"{pointer}: {problem}" for problem in _node_problems(node))
    return found


def _node_problems(node: Mapping[str, Any]) -> Iterator[str]:
    """The unsupported keywords of one schema object, not looking into subschemas."""
    for keyword in UNSUPPORTED_KEYWORDS:
        if keyword in node:
            yield keyword
    fmt = node.get("format")
    if fmt is not None and fmt not in SUPPORTED_STRING_FORMATS:
        yield f"format (value {fmt!r})"
    for constrained in ("format", "pattern"):
        if constrained in node:
            yield from (f"{key} (with {constrained})" for key in _LENGTH_KEYS if key in node)
    pattern = node.get("pattern")
    if isinstance(pattern, str) and _REGEX_UNSUPPORTED.search(pattern):
        yield "pattern (lookaround or backreference)"
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) > 1:
        yield f"allOf ({len(all_of)} entries)"
    if isinstance(node.get("items"), list):
        yield "items (array form; use prefixItems)"
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        if isinstance(node.get(key), bool):
            yield f"{key} (boolean form)"
    ref = node.get("$ref")
    if isinstance(ref, str) and ref != "#" and not ref.startswith("#/"):
        yield f"$ref (non-local {ref!r})"


def _walk_schemas(schema: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield ``(pointer, subschema)`` for the root and every nested schema object."""
    stack: list[tuple[str, object]] = [("#", schema)]
    while stack:
        pointer, node = stack.pop()
        if not isinstance(node, Mapping):
            continue  # boolean schemas and malformed values hold no keywords
        yield pointer, node
        children: list[tuple[str, object]] = []
        for key in _SCHEMA_MAPS:
            value = node.get(key)
            if isinstance(value, Mapping):
                children += [(f"{pointer}/{key}/{_escape(k)}", v) for k, v in value.items()]
        for key in (*_SCHEMA_LISTS, *_SCHEMA_VALUES):
            value = node.get(key)
            if isinstance(value, list):  # includes the draft-4 array form of items
                children += [(f"{pointer}/{key}/{i}", v) for i, v in enumerate(value)]
            elif key in node:
                children.append((f"{pointer}/{key}", value))
        stack.extend(reversed(children))


def _escape(key: object) -> str:
    """JSON-pointer escaping of one reference token (RFC 6901)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def schema_depth(schema: object) -> int:
    """Nesting depth of the schema *document*: a scalar is 0, ``{}`` is 1, ``{"a": {}}`` is 2.

    This is what vLLM's ``check_json_nesting`` measures (it refuses depth > 64), counted
    iteratively level by level so that no input can exhaust the recursion limit.
    """
    depth = 0
    level: list[object] = [schema]
    while level:
        containers = [n for n in level if isinstance(n, (Mapping, list))]
        if not containers:
            break
        depth += 1
        level = [
            child
            for node in containers
            for child in (node.values() if isinstance(node, Mapping) else node)
        ]
    return depth
