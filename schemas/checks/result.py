"""What a check returns, and the type of a check.

A check is a plain function over a schema's model that returns one `CheckResult`: ``pass``,
``fail`` or ``skipped`` (the fields it needs are missing), the JSON Pointers of the fields it
looked at (the same pointers as the extraction's ``confidence``), and a message. A failure's
message says what disagreed in words a person, or the model on a repair pass, can act on.

    >>> result = passed("amounts.total", ["/subtotal", "/tax", "/total"], "200.00 + 38.00 = 238.00")
    >>> result.status, result.ok
    ('pass', True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Check", "CheckResult", "Status", "failed", "passed", "skipped"]

Status = Literal["pass", "fail", "skipped"]


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


def passed(name: str, fields: Sequence[str], message: str) -> CheckResult:
    return CheckResult(name=name, status="pass", fields=list(fields), message=message)


def failed(name: str, fields: Sequence[str], message: str) -> CheckResult:
    return CheckResult(name=name, status="fail", fields=list(fields), message=message)


def skipped(name: str, fields: Sequence[str], message: str) -> CheckResult:
    return CheckResult(name=name, status="skipped", fields=list(fields), message=message)
