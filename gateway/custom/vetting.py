"""A registered JSON Schema, vetted once at registration and bounded so decoding always ends.

The same guard as a user schema on chat (`gateway.schema_guard`: size, depth, the keywords
xgrammar cannot enforce), and then what an extraction kind needs beyond it:

- the root is an object with ``properties`` (its fields are what checks, merge rules and
  ``required`` name);
- every string is bounded, so a confused model cannot run to ``max_tokens``. A string with
  an ``enum``, a ``const`` or a supported ``format`` already is; a string with no bound gets
  the default ``pattern`` ``^[^"\\\\\\x00-\\x1f]{0,128}$`` (the built-ins' text rule, never
  ``maxLength``, which xgrammar 0.2.8 mishandles: see `schemas.fields`); a ``maxLength`` of at
  most 128 becomes that pattern with its bounds; a ``pattern`` must bound its repetitions
  (no ``*``, ``+`` or ``{n,}``), and anything longer than 128 is refused;
- every array is bounded: ``maxItems`` defaults to `DEFAULT_MAX_ITEMS` and may not exceed
  `MAX_ITEMS`.

The bounded schema is what is stored and shown, so the caller sees every default added.
Each refusal is a `GatewayError` 400 whose ``param`` is ``json_schema`` followed by the JSON
Pointer of the offending subschema (``json_schema/properties/tags``) and whose ``code``
names the rule.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from schemas.fields import SAFE_CHAR, TEXT_MAX
from schemas.jsonschema import SUPPORTED_STRING_FORMATS, find_unsupported_keywords

from ..errors import ErrorCode, GatewayError
from ..schema_guard import check_schema
from ..settings import Settings

__all__ = ["DEFAULT_MAX_ITEMS", "MAX_ITEMS", "STRING_MAX", "bounded_schema"]

STRING_MAX = TEXT_MAX
"""The longest string a registered schema may allow (xgrammar unrolls bounds up to 128)."""
DEFAULT_MAX_ITEMS = 32
"""``maxItems`` of an array that declares none."""
MAX_ITEMS = 256
"""The largest ``maxItems`` accepted."""

_UNBOUNDED_REPEAT = re.compile(r"[*+]|\{\d*,\}")
_REPEAT = re.compile(r"\{(\d+)(?:,(\d+))?\}")


def _refuse(pointer: str, message: str, code: ErrorCode) -> GatewayError:
    return GatewayError(400, message, param=f"json_schema{pointer}", code=code)


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    return set()


def _bound_string(node: dict[str, Any], pointer: str) -> None:
    if "enum" in node or "const" in node or node.get("format") in SUPPORTED_STRING_FORMATS:
        return
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        plain = re.sub(r"\\.", "", pattern)
        longest = max((int(b or a) for a, b in _REPEAT.findall(plain)), default=0)
        if _UNBOUNDED_REPEAT.search(plain) or longest > STRING_MAX:
            raise _refuse(
                pointer,
                f"the string at {pointer or '/'} has an unbounded pattern {pattern!r}: bound "
                f"every repetition ({{0,{STRING_MAX}}} at most, no '*', '+' or '{{n,}}')",
                ErrorCode.SCHEMA_UNBOUNDED,
            )
        return
    low, high = node.pop("minLength", 0), node.pop("maxLength", STRING_MAX)
    if not isinstance(high, int) or not isinstance(low, int) or not 0 <= low <= high:
        raise _refuse(pointer, "minLength and maxLength must be integers, min <= max",
                      ErrorCode.SCHEMA_INVALID)  # fmt: skip
    if high > STRING_MAX:
        raise _refuse(
            pointer,
            f"the string at {pointer or '/'} may be {high} characters long; the limit is "
            f"{STRING_MAX}",
            ErrorCode.SCHEMA_UNBOUNDED,
        )
    node["pattern"] = f"^{SAFE_CHAR}{{{low},{high}}}$"


def _bound_array(node: dict[str, Any], pointer: str) -> None:
    most = node.setdefault("maxItems", DEFAULT_MAX_ITEMS)
    if not isinstance(most, int) or most > MAX_ITEMS:
        raise _refuse(
            pointer,
            f"the array at {pointer or '/'} allows {most} items; the limit is {MAX_ITEMS}",
            ErrorCode.SCHEMA_UNBOUNDED,
        )


def _walk(node: Any, pointer: str) -> None:
    if not isinstance(node, dict):
        return
    kinds = _types(node)
    if "string" in kinds:
        _bound_string(node, pointer)
    if "array" in kinds:
        _bound_array(node, pointer)
    for key in ("properties", "$defs", "definitions"):
        children = node.get(key)
        if isinstance(children, dict):
            for name, child in children.items():
                escaped = str(name).replace("~", "~0").replace("/", "~1")
                _walk(child, f"{pointer}/{key}/{escaped}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _walk(node[key], f"{pointer}/{key}")
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(node.get(key), list):
            for i, child in enumerate(node[key]):
                _walk(child, f"{pointer}/{key}/{i}")


def bounded_schema(schema: Any, settings: Settings) -> dict[str, Any]:
    """``schema`` vetted and bounded (a new object); `GatewayError` 400 if it cannot be."""
    if not isinstance(schema, dict):
        raise _refuse("", "json_schema must be a JSON Schema object", ErrorCode.SCHEMA_INVALID)
    unsupported = find_unsupported_keywords(schema)
    if unsupported:
        where = unsupported[0].partition(": ")[0]
        raise _refuse(
            where.removeprefix("#"),
            f"the JSON schema uses a keyword guided decoding cannot enforce: {unsupported[0]}",
            ErrorCode.SCHEMA_UNSUPPORTED_KEYWORD,
        )
    check_schema(schema, "json_schema", settings)  # size and depth: the chat route's guard
    bounded = copy.deepcopy(schema)
    properties = bounded.get("properties")
    if bounded.get("type") != "object" or not isinstance(properties, dict) or not properties:
        raise _refuse(
            "",
            "a registered schema is an object with properties: "
            '{"type": "object", "properties": {...}}',
            ErrorCode.SCHEMA_INVALID,
        )
    _walk(bounded, "")
    return bounded
