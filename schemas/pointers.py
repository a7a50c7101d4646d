"""JSON Pointers (RFC 6901) into extracted data: resolving one, and whether two overlap.

Checks name the fields they read (``/line_items/2/amount``), schemas name the fields they
need (``/total``), and merged documents record which page each field came from
(``/line_items/2``). These are the same pointers as the extraction's ``confidence`` keys, so
two of them *overlap* when one is the other or lies inside it: a missing ``/mrz_lines``
blocks a check that reads ``/mrz_lines/1``, and ``/line_items/2/amount`` lives on the page
that ``/line_items/2`` came from.

    >>> overlaps("/line_items/2", "/line_items/2/amount"), overlaps("/tax", "/tax_lines")
    (True, False)
    >>> resolve({"line_items": [{"amount": 5.0}]}, "/line_items/0/amount")
    5.0
"""

from __future__ import annotations

from typing import Any

__all__ = ["MISSING", "is_blank", "overlaps", "resolve", "split"]

MISSING: Any = object()
"""What `resolve` gives for a pointer that leads nowhere (a key or index that is absent)."""


def split(pointer: str) -> list[str]:
    """The reference tokens of ``pointer``, unescaped (``~1`` is ``/``, ``~0`` is ``~``)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON Pointer starts with '/': {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def resolve(data: Any, pointer: str) -> Any:
    """The value at ``pointer`` in plain JSON-like ``data`` (dicts and lists), or `MISSING`."""
    node = data
    for token in split(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return MISSING
    return node


def is_blank(value: Any) -> bool:
    """Nothing was read: null, an empty or all-space string, an empty list, or no such key."""
    if value is MISSING or value is None or value == []:
        return True
    return isinstance(value, str) and not value.strip()


def overlaps(a: str, b: str) -> bool:
    """One pointer is the other, or an ancestor of it (token by token, not by text)."""
    ta, tb = split(a), split(b)
    shorter = min(len(ta), len(tb))
    return ta[:shorter] == tb[:shorter]
