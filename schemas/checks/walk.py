"""JSON Pointers with ``*``: one pointer that names a field of every element of a list.

Checks written as data (`schemas.checks.language`) name their fields as JSON Pointers, and
a ``*`` token walks a list: ``/line_items/*/amount`` is the amount of every line. `expand`
turns such a pointer into the concrete pointers and values of one answer, in list order, so
a check's result names ``/line_items/2/amount`` exactly as the extraction's ``confidence``
does.

    >>> expand({"line_items": [{"amount": 5.0}, {"amount": None}]}, "/line_items/*/amount")
    [('/line_items/0/amount', 5.0), ('/line_items/1/amount', None)]
    >>> expand({"total": 3}, "/total"), expand({"lines": None}, "/lines/*/amount")
    ([('/total', 3)], [])
"""

from __future__ import annotations

from typing import Any

from schemas.pointers import MISSING, resolve, split

__all__ = ["STAR", "expand", "list_of", "row", "stars"]

STAR = "*"


def stars(pointer: str) -> int:
    """How many lists ``pointer`` walks."""
    return split(pointer).count(STAR)


def list_of(pointer: str) -> str:
    """The list a one-star pointer walks: ``/line_items/*/amount`` → ``/line_items``."""
    return pointer.split("/*", 1)[0]


def row(pointer: str, index: int) -> str:
    """``pointer`` in the row ``index`` of its list: ``/a/*/b``, 2 → ``/a/2/b``."""
    return pointer.replace("/*", f"/{index}", 1)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def expand(data: Any, pointer: str) -> list[tuple[str, Any]]:
    """Every (concrete pointer, value) ``pointer`` names in ``data``; a missing key or a
    null reads as None, a list that is missing or null has no elements (a pointer without
    ``*`` always gives one pair)."""
    found: list[tuple[str, Any]] = [("", data)]
    for token in split(pointer):
        nxt: list[tuple[str, Any]] = []
        for at, node in found:
            if token == STAR:
                if isinstance(node, list):
                    nxt += [(f"{at}/{i}", item) for i, item in enumerate(node)]
                continue
            value = resolve(node, "/" + _escape(token)) if node is not None else None
            nxt.append((f"{at}/{_escape(token)}", None if value is MISSING else value))
        found = nxt
    return found
