r"""Field types shared by the schema kinds, each bounded so that guided decoding always ends.

Why bounds everywhere: with vLLM's xgrammar guided decoding any grammar-valid JSON can come
out, and a model that never closes a string (the random-weight test checkpoint, or a confused
real one) would run to ``max_tokens`` and return half an object. Bounded strings, counts and
amounts make every kind finish within its ``max_tokens`` budget, and numeric bounds also keep
xgrammar from emitting exponent notation (``1e999`` would parse as infinity).

Why text is a *pattern* and not ``maxLength`` (both measured on xgrammar 0.2.8, the version
vLLM 0.32 uses, in ``tests/unit/test_schemas_xgrammar.py``):

- xgrammar's ``maxLength`` string rule admits raw control characters (tab, ``\x01`` ...),
  which is invalid JSON: most random-weight answers failed to parse. The pattern's character
  class excludes them, along with ``"`` and ``\``, so values never need escapes. The price:
  text fields cannot hold a double quote or a backslash.
- xgrammar unrolls a bounded repetition of up to 128 into a per-field automaton and uses a
  counter above that. The counter form crashes the compile whenever the grammar cache is on
  (``grammar_functor.cc: per_rule_fsm_hashes ... has_value()``), and vLLM 0.32 always compiles
  with the cache on, so every bound stays at or below 128. Unrolled bounds cost compile time
  (about 0.1 s a field at ``{0,64}``), paid once per schema per engine: vLLM caches grammars.
  ``tests/unit/test_schemas_xgrammar.py`` compiles every schema the way vLLM does.

Patterns spell digits as ``[0-9]`` so xgrammar and pydantic's Rust regex agree exactly.

    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(IsoDate).validate_python("1990-01-31")
    '1990-01-31'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

__all__ = [
    "AMOUNT_LIMIT",
    "COUNT_LIMIT",
    "ISO_DATE_PATTERN",
    "SAFE_CHAR",
    "SHORT_TEXT_MAX",
    "TEXT_MAX",
    "Amount",
    "Confidence",
    "Count",
    "CurrencyCode",
    "IsoDate",
    "MrzLine",
    "Sex",
    "ShortText",
    "Text",
    "TimeOfDay",
]

SHORT_TEXT_MAX = 64
"""Longest value for names, codes, numbers and table cells (an MRZ line is 44)."""

TEXT_MAX = 128
"""Longest value for addresses, descriptions and sentences (xgrammar's limit, see above)."""

SAFE_CHAR = r'[^"\\\x00-\x1f]'
"""A character that is valid unescaped inside a JSON string: no quote, backslash or control."""

AMOUNT_LIMIT = 1e12
"""Monetary amounts and quantities lie in [-AMOUNT_LIMIT, AMOUNT_LIMIT]."""

COUNT_LIMIT = 1_000_000
"""Counts lie in [0, COUNT_LIMIT]: a packed stadium fits, a runaway digit string does not."""

ISO_DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
"""ISO 8601 calendar date YYYY-MM-DD, months 01-12 and days 01-31."""


def _text_grammar(limit: int) -> dict[str, Any]:
    """The JSON schema of a text field: up to ``limit`` safe characters.

    Pydantic validates the same fields more loosely (``max_length=4 * limit``, any character):
    xgrammar 0.2.8 counts an ill-formed UTF-8 sequence (overlong, surrogate) as one character,
    a random-weight model emits them, and detokenizing turns each into up to 4 U+FFFD. The
    grammar enforces the strict form; anything it admits then also validates.
    """
    return {"type": "string", "pattern": f"^{SAFE_CHAR}{{0,{limit}}}$"}


ShortText = Annotated[
    str, Field(max_length=4 * SHORT_TEXT_MAX), WithJsonSchema(_text_grammar(SHORT_TEXT_MAX))
]
Text = Annotated[str, Field(max_length=4 * TEXT_MAX), WithJsonSchema(_text_grammar(TEXT_MAX))]
IsoDate = Annotated[str, Field(pattern=ISO_DATE_PATTERN)]
TimeOfDay = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
MrzLine = Annotated[str, Field(pattern=r"^[A-Z0-9<]{30,44}$")]
Amount = Annotated[float, Field(ge=-AMOUNT_LIMIT, le=AMOUNT_LIMIT)]
Count = Annotated[int, Field(ge=0, le=COUNT_LIMIT)]
Confidence = Literal["low", "medium", "high"]
Sex = Literal["F", "M", "X"]
