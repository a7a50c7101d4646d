"""Checks of an identity document against its machine-readable zone (MRZ).

The zone repeats the data page in a form built to be verified: every key field has a check
digit, and the printed fields must say the same thing. `mrz_checks` builds, for one schema,
a fixed list of checks: the zone's shape, each check digit, and each printed field that has a
counterpart in the zone. Every check is there whether or not the zone was read, and says
``skipped`` when it was not, so a kind's list of check names never changes.

    >>> from schemas.passport import SPEC
    >>> [r.status for r in SPEC.run_checks(SPEC.example)].count("fail")
    0
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from schemas.checks import mrz
from schemas.checks.result import Check, CheckResult, failed, passed, skipped

__all__ = ["MrzBinding", "mrz_checks"]

Element = Literal[
    "document_number",
    "surname",
    "given_names",
    "full_name",
    "nationality",
    "issuing_state",
    "date_of_birth",
    "sex",
    "date_of_expiry",
]
_DIGITS = {
    "TD3": ("document_number", "date_of_birth", "date_of_expiry", "personal_number", "composite"),
    "TD1": ("document_number", "date_of_birth", "date_of_expiry", "composite"),
}
_LINE_OF: Mapping[str, Mapping[str, int]] = {
    "TD3": {"surname": 0, "given_names": 0, "full_name": 0, "issuing_state": 0},
    "TD1": {"surname": 2, "given_names": 2, "full_name": 2, "document_number": 0},
}
"""The zone line holding each element, where it is not the second line (index 1)."""
_WORDS = {
    "document_number": "document number",
    "date_of_birth": "date of birth",
    "date_of_expiry": "date of expiry",
    "personal_number": "personal number",
    "composite": "whole line (composite)",
}


@dataclass(frozen=True)
class MrzBinding:
    """Where one schema keeps its zone and the printed counterparts of the zone's fields.

    ``kind`` is the zone format the document should carry; ``printed`` maps a zone element
    to the model attribute that prints it (leave an element out if the schema lacks it).
    """

    kind: Literal["TD3", "TD1"]
    printed: Mapping[Element, str]
    lines: str = "mrz_lines"


def _zone(binding: MrzBinding, data: Any) -> mrz.Mrz | str | None:
    """The parsed zone, a reason it cannot be parsed, or None when there is none."""
    lines = getattr(data, binding.lines)
    if not lines:
        return None
    try:
        zone = mrz.parse(lines)
    except mrz.MrzFormatError as exc:
        return str(exc)
    if zone.kind != binding.kind:
        return f"expected a {binding.kind} zone, found {zone.kind}"
    return zone


def mrz_checks(binding: MrzBinding) -> tuple[Check, ...]:
    """The zone's format check, one check per check digit, one per printed counterpart."""
    checks: list[Check] = [_format_check(binding)]
    checks += [_digit_check(binding, name) for name in _DIGITS[binding.kind]]
    checks += [_match_check(binding, element, attr) for element, attr in binding.printed.items()]
    return tuple(checks)


def _format_check(binding: MrzBinding) -> Check:
    name = "mrz.format"
    pointer = f"/{binding.lines}"

    def check(data: Any) -> CheckResult:
        zone = _zone(binding, data)
        if zone is None:
            return skipped(name, [pointer], "no machine-readable zone was read")
        if isinstance(zone, str):
            return failed(name, [pointer], f"{zone}; read the machine-readable zone again")
        return passed(name, [pointer], f"a {zone.kind} zone")

    return check


def _digit_check(binding: MrzBinding, digit_name: str) -> Check:
    name = f"mrz.check_digit.{digit_name}"

    def check(data: Any) -> CheckResult:
        zone = _zone(binding, data)
        if not isinstance(zone, mrz.Mrz):
            return skipped(name, [f"/{binding.lines}"], "no readable machine-readable zone")
        digit = next(d for d in zone.digits if d.name == digit_name)
        pointer = [f"/{binding.lines}/{digit.line}"]
        what = _WORDS[digit_name]
        if digit.problem is None:
            return passed(name, pointer, f"the check digit of the {what} is {digit.digit}")
        return failed(
            name,
            pointer,
            f"the MRZ check digit of the {what} ({digit.covered}) {digit.problem}; read line "
            f"{digit.line + 1} of the zone again",
        )

    return check


def _match_check(binding: MrzBinding, element: Element, attr: str) -> Check:
    name = f"mrz.matches.{attr}"
    compare = _COMPARE[element]

    def check(data: Any) -> CheckResult:
        printed = getattr(data, attr)
        zone = _zone(binding, data)
        line = _LINE_OF[binding.kind].get(element, 1)
        fields = [f"/{attr}", f"/{binding.lines}/{line}"]
        if not isinstance(zone, mrz.Mrz):
            return skipped(name, fields[:1], "no readable machine-readable zone")
        if printed is None:
            return skipped(name, fields, f"{attr} was not read")
        verdict, zone_value = compare(str(printed), zone)
        if verdict is None:
            return skipped(name, fields, f"the printed {attr} {printed!r} is not a state code")
        if verdict:
            return passed(name, fields, f"the printed {attr} matches the zone ({zone_value})")
        return failed(
            name,
            fields,
            f"the printed {attr} {printed!r} does not match the zone's {zone_value!r}; read "
            f"both again",
        )

    return check


Comparison = Callable[[str, mrz.Mrz], tuple[bool | None, str]]
"""(printed value, zone) → (agrees, or None if not comparable; the zone's value)."""


def _name_matches(printed: str, zone_value: str, truncated: bool) -> bool:
    return any(
        v == zone_value or (truncated and v.startswith(zone_value))
        for v in mrz.name_variants(printed)
    )


def _surname(printed: str, zone: mrz.Mrz) -> tuple[bool | None, str]:
    return _name_matches(printed, zone.surname, zone.name_truncated), zone.surname


def _given(printed: str, zone: mrz.Mrz) -> tuple[bool | None, str]:
    return _name_matches(printed, zone.given_names, zone.name_truncated), zone.given_names


def _full_name(printed: str, zone: mrz.Mrz) -> tuple[bool | None, str]:
    """Cards print names in either order: compare as a set of words."""
    words = f"{zone.surname} {zone.given_names}".split()
    variants = [v.split() for v in mrz.name_variants(printed)]
    if zone.name_truncated:
        agrees = any(set(words[:-1]) <= set(v) for v in variants)
    else:
        agrees = any(sorted(words) == sorted(v) for v in variants)
    return agrees, " ".join(words)


def _code(get: Callable[[mrz.Mrz], str]) -> Comparison:
    """A state code: compared only when the printed value is a code (1-3 letters)."""

    def compare(printed: str, zone: mrz.Mrz) -> tuple[bool | None, str]:
        code = printed.strip().upper()
        if not re.fullmatch(r"[A-Z]{1,3}", code):
            return None, get(zone)
        return code == get(zone), get(zone)

    return compare


def _document_number(printed: str, zone: mrz.Mrz) -> tuple[bool | None, str]:
    return re.sub(r"[^A-Z0-9]", "", printed.upper()) == zone.document_number, zone.document_number


def _date(get: Callable[[mrz.Mrz], str]) -> Comparison:
    """ISO date vs the zone's YYMMDD, position by position ('<' in the zone: unknown)."""

    def compare(printed: str, zone: mrz.Mrz) -> tuple[bool | None, str]:
        yymmdd = printed[2:4] + printed[5:7] + printed[8:10]
        agrees = all(z in ("<", p) for z, p in zip(get(zone), yymmdd, strict=True))
        return agrees, get(zone)

    return compare


def _sex(printed: str, zone: mrz.Mrz) -> tuple[bool | None, str]:
    return {"X": "<"}.get(printed, printed) == zone.sex, zone.sex


_COMPARE: Mapping[Element, Comparison] = {
    "document_number": _document_number,
    "surname": _surname,
    "given_names": _given,
    "full_name": _full_name,
    "nationality": _code(lambda z: z.nationality),
    "issuing_state": _code(lambda z: z.issuing_state),
    "date_of_birth": _date(lambda z: z.date_of_birth),
    "sex": _sex,
    "date_of_expiry": _date(lambda z: z.date_of_expiry),
}
