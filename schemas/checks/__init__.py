"""Deterministic checks of extracted data: check digits, arithmetic, dates, table shape.

Guided decoding makes an answer parse; these make it *plausible*. Each schema module declares
its checks (``SchemaSpec.checks``): plain functions over its model, each returning one
`CheckResult` (``pass``, ``fail`` or ``skipped``), each declaring whether one page can verify
it or only the whole document (`ScopedCheck`). The building blocks live here:

- `mrz`: ICAO 9303 TD3/TD1 zones and 7-3-1 check digits; `identity` binds them to a schema;
- `cn_ric`: the Chinese resident ID number (ISO 7064 MOD 11-2, via python-stdnum);
- `arithmetic`: amounts in ``Decimal``: sums exact, only products rounded to the minor unit;
- `language`: checks declared as data (``sum``, ``product``, ``expression``, ``identifier``,
  ``date_order``, ``mrz``), built from `figures`, `expression`, `identifiers`, `dates` and
  `identity`; the one mechanism of the bills and of schemas registered through the API;
- `bills`: the whole arithmetic of an invoice or receipt, declared in that language;
- `dates`: dates in the order a document's life allows.
"""

from schemas.checks.result import (
    SCOPES,
    Check,
    CheckResult,
    Scope,
    ScopedCheck,
    Status,
    blocked_by,
    failed,
    passed,
    skipped,
)

__all__ = [
    "SCOPES",
    "Check",
    "CheckResult",
    "Scope",
    "ScopedCheck",
    "Status",
    "blocked_by",
    "failed",
    "passed",
    "skipped",
]
