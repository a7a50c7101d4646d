"""``identifier`` checks: a printed number validated by python-stdnum, by module name.

python-stdnum knows some 200 formats (``iban``, ``bic``, ``isin``, ``ean``, ``luhn``, ``imo``,
``eu.vat``, ``de.vat``, ``us.ein``, ``cn.ric`` …), each a module with ``validate``: check
digits, lengths and country rules, kept up to date by its maintainers. A format is looked
up once, when a check is declared, so an unknown one is refused at registration.

    >>> check = IdentifierCheck("iban", "/iban", "iban")
    >>> check({"iban": "DE89 3704 0044 0532 0130 00"}).status
    'pass'
    >>> check({"iban": "DE89 3704 0044 0532 0130 01"}).status
    'fail'
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from schemas.checks.result import CheckResult, failed, passed, skipped
from schemas.checks.walk import expand

__all__ = ["IdentifierCheck", "UnknownFormatError", "stdnum_module"]

_FORMAT = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")


class UnknownFormatError(LookupError):
    """python-stdnum has no validator by this name."""


def stdnum_module(fmt: str) -> ModuleType:
    """The python-stdnum module validating ``fmt`` (``iban``, ``eu.vat``); raises
    `UnknownFormatError` otherwise. Only names of the form ``a`` or ``a.b`` are imported."""
    if not isinstance(fmt, str) or not _FORMAT.match(fmt) or fmt.startswith("util"):
        raise UnknownFormatError(f"{fmt!r} is not a python-stdnum format")
    try:
        module = importlib.import_module(f"stdnum.{fmt}")
    except ImportError:
        raise UnknownFormatError(f"python-stdnum has no format {fmt!r}") from None
    if not callable(getattr(module, "validate", None)):
        raise UnknownFormatError(f"stdnum.{fmt} is not a validator")
    return module


@dataclass(frozen=True)
class IdentifierCheck:
    """Every value at ``field`` (a ``*`` walks a list) is a valid ``fmt``; none read: skipped."""

    name: str
    field: str
    fmt: str

    def __call__(self, data: Any) -> CheckResult:
        module = stdnum_module(self.fmt)
        values = [(at, v) for at, v in expand(data, self.field) if v not in (None, "")]
        if not values:
            return skipped(self.name, [self.field], f"no {self.fmt} was read")
        wrong = []
        for at, value in values:
            try:
                module.validate(str(value))
            except Exception as exc:  # stdnum's ValidationError and its subclasses
                reason = (str(exc) or type(exc).__name__).rstrip(".")
                wrong.append((at, f"{at[1:]} {str(value)!r} is not a valid {self.fmt}: {reason}"))
        if wrong:
            return failed(
                self.name,
                [at for at, _ in wrong],
                "; ".join(text for _, text in wrong) + "; read it again",
            )
        return passed(self.name, [at for at, _ in values], f"a valid {self.fmt}")
