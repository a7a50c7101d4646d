"""What a check returns, the type of a check, and the level a check works at.

A check is a plain function over a schema's model that returns one `CheckResult`: ``pass``,
``fail`` or ``skipped`` (the fields it needs are missing), the JSON Pointers of the fields it
looked at (the same pointers as the extraction's ``confidence``), and a message. A failure's
message says what disagreed in words a person, or the model on a repair pass, can act on.

    >>> result = passed("amounts.total", ["/subtotal", "/tax", "/total"], "200.00 + 38.00 = 238.00")
    >>> result.status, result.ok
    ('pass', True)

Each check also declares its *scope*, what it needs to be verifiable (`ScopedCheck`):

- ``"page"``: one page alone holds everything it compares: a line's quantity × unit price,
  a table row's width, a date's validity, a zone's check digits. It runs on every page of a
  multi-page document, and on a single image.
- ``"document"``: it compares fields that a long document prints on different pages (the
  lines against the subtotal, the subtotal and taxes against the total). It runs once, on
  the merged document, and on a single image, which is a whole document; never on one page
  of several, where it would fail although nothing was misread.

A bare function in ``SchemaSpec.checks`` is a page check.

    >>> ScopedCheck(lambda data: result, "document").scope
    'document'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from schemas.pointers import overlaps

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

Status = Literal["pass", "fail", "skipped"]
Scope = Literal["page", "document"]
SCOPES: tuple[Scope, ...] = ("page", "document")


class CheckResult(BaseModel):
    """The outcome of one deterministic check of an extraction."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Stable check name, e.g. 'mrz.check_digit.document_number'.")
    status: Status = Field(description="'pass', 'fail', or 'skipped' when fields are missing.")
    fields: list[str] = Field(description="JSON Pointers of the fields involved, e.g. '/total'.")
    message: str = Field(description="What was compared and, on failure, what disagreed.")

    @property
    def ok(self) -> bool:
        """True unless the check failed (a skipped check is not a failure)."""
        return self.status != "fail"


Check: TypeAlias = Callable[[Any], CheckResult]
"""A check over one schema's model instance."""


@dataclass(frozen=True)
class ScopedCheck:
    """A check with the scope it can be verified at (see the module docstring)."""

    check: Check
    scope: Scope

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"a check's scope is one of {SCOPES}, not {self.scope!r}")

    def __call__(self, data: Any) -> CheckResult:
        return self.check(data)


def passed(name: str, fields: Sequence[str], message: str) -> CheckResult:
    return CheckResult(name=name, status="pass", fields=list(fields), message=message)


def failed(name: str, fields: Sequence[str], message: str) -> CheckResult:
    return CheckResult(name=name, status="fail", fields=list(fields), message=message)


def skipped(name: str, fields: Sequence[str], message: str) -> CheckResult:
    return CheckResult(name=name, status="skipped", fields=list(fields), message=message)


def blocked_by(results: Iterable[CheckResult], missing: Iterable[str]) -> list[CheckResult]:
    """The skipped results among ``results`` that read a field in ``missing`` (JSON Pointers,
    e.g. a schema's missing needed fields): checks that could not run for want of them.

        >>> total = skipped("amounts.total", ["/subtotal", "/total"], "needs total")
        >>> [r.name for r in blocked_by([total], ["/total"])], blocked_by([total], ["/tax"])
        (['amounts.total'], [])
    """
    gone = list(missing)
    return [
        r
        for r in results
        if r.status == "skipped" and any(overlaps(f, m) for f in r.fields for m in gone)
    ]
