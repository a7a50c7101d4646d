"""ICAO 9303 machine-readable zones: parsing TD3 (passports) and TD1 (ID cards), check digits.

Written here from the specification (ICAO Doc 9303, parts 3 to 5): it is a few lines, and
the published libraries either do much more (OCR) or are GPL.

A check digit is the sum of each character's value times the repeating weights 7, 3, 1,
modulo 10; digits count as themselves, ``A``-``Z`` as 10-35 and the filler ``<`` as 0.
A ``<`` in place of a check digit is valid only where ICAO 9303 allows it: the digit of a
TD3 zone's optional data (personal number) when that field is all filler. A document number
that is all filler is never valid, although its arithmetic check digit (0) would be.

    >>> check_digit("L898902C3")
    '6'
    >>> mrz = parse(["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    ...              "L898902C36UTO7408122F1204159ZE184226B<<<<<10"])
    >>> mrz.kind, mrz.document_number, mrz.surname, mrz.given_names
    ('TD3', 'L898902C3', 'ERIKSSON', 'ANNA MARIA')
    >>> [(d.name, d.valid) for d in mrz.digits]  # doctest: +NORMALIZE_WHITESPACE
    [('document_number', True), ('date_of_birth', True), ('date_of_expiry', True),
     ('personal_number', True), ('composite', True)]
    >>> CheckDigit("document_number", "<<<<<<<<<", "0", 1, may_be_blank=False).problem
    "covers a field left blank (all '<')"
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CheckDigit",
    "Mrz",
    "MrzFormatError",
    "check_digit",
    "name_variants",
    "parse",
]

_WEIGHTS = (7, 3, 1)
_LINE = re.compile(r"^[A-Z0-9<]*$")
_LAYOUTS = {(2, 44): "TD3", (3, 30): "TD1"}
# ICAO 9303 part 3's transliterations that differ from simply dropping the accent.
_TRANSLITERATIONS = str.maketrans(
    {"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "Å": "AA", "Æ": "AE", "Ø": "OE", "Þ": "TH"}
)


class MrzFormatError(ValueError):
    """The lines are not a TD3 or TD1 zone; the message says what is wrong."""


def _value(char: str) -> int:
    if char.isdigit():
        return int(char)
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise MrzFormatError(f"character {char!r} is not allowed in a machine-readable zone")


def check_digit(field: str) -> str:
    """The ICAO 9303 check digit of ``field`` (7-3-1 weights, modulo 10)."""
    return str(sum(_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field)) % 10)


@dataclass(frozen=True)
class CheckDigit:
    """One check digit of a zone: the characters it covers and the digit printed."""

    name: str
    """``document_number``, ``date_of_birth``, ``date_of_expiry``, ``personal_number`` or
    ``composite``."""
    covered: str
    digit: str
    line: int
    """Index of the zone line that holds the digit."""
    may_be_blank: bool = True
    """The field may be all filler: an unknown date, unused optional data. A document
    number may not: a zone without one identifies no document."""
    filler_for_blank: bool = False
    """``<`` may stand in place of the digit when the field is all filler. ICAO 9303 allows
    it in one place only: the check digit of a TD3 zone's optional data (personal number)."""

    @property
    def blank(self) -> bool:
        """The covered characters are all filler."""
        return set(self.covered) <= {"<"}

    @property
    def problem(self) -> str | None:
        """Why the digit is not valid, in words; None when it is."""
        if self.digit == "<":
            if self.filler_for_blank and self.blank:
                return None
            return "is '<' where ICAO 9303 requires a digit"
        if self.blank and not self.may_be_blank:
            return "covers a field left blank (all '<')"
        expected = check_digit(self.covered)
        if self.digit != expected:
            return f"is {self.digit} but the characters give {expected}"
        return None

    @property
    def valid(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Mrz:
    """The fields of a zone, fillers removed, and its check digits."""

    kind: Literal["TD3", "TD1"]
    document_code: str
    issuing_state: str
    document_number: str
    nationality: str
    date_of_birth: str
    """YYMMDD, as in the zone ('<' for an unknown part)."""
    sex: str
    """``F``, ``M`` or ``<`` (unspecified)."""
    date_of_expiry: str
    surname: str
    given_names: str
    """Given names separated by single spaces."""
    name_truncated: bool
    """The name field is full to its last character, so the name may have been cut short."""
    digits: tuple[CheckDigit, ...]


def _strip(field: str) -> str:
    return field.replace("<", " ").strip()


def _names(field: str) -> tuple[str, str, bool]:
    surname, _, given = field.partition("<<")
    words = (w for w in given.split("<") if w)
    return _strip(surname), " ".join(words), not field.endswith("<")


def parse(lines: Sequence[str]) -> Mrz:
    """Parse a TD3 (2 × 44) or TD1 (3 × 30) zone; raises `MrzFormatError` for anything else."""
    shape = (len(lines), len(lines[0]) if lines else 0)
    kind = _LAYOUTS.get(shape)
    if kind is None or any(len(line) != shape[1] for line in lines):
        lengths = ", ".join(str(len(line)) for line in lines) or "none"
        raise MrzFormatError(
            f"a zone is 2 lines of 44 characters (passport) or 3 of 30 (ID card); got line "
            f"lengths {lengths}"
        )
    for number, line in enumerate(lines):
        if not _LINE.match(line):
            raise MrzFormatError(f"line {number + 1} holds characters other than A-Z, 0-9, '<'")
    return _td3(lines) if kind == "TD3" else _td1(lines)


def _td3(lines: Sequence[str]) -> Mrz:
    top, low = lines
    surname, given, truncated = _names(top[5:44])
    digits = (
        CheckDigit("document_number", low[0:9], low[9], 1, may_be_blank=False),
        CheckDigit("date_of_birth", low[13:19], low[19], 1),
        CheckDigit("date_of_expiry", low[21:27], low[27], 1),
        CheckDigit("personal_number", low[28:42], low[42], 1, filler_for_blank=True),
        CheckDigit("composite", low[0:10] + low[13:20] + low[21:43], low[43], 1),
    )
    return Mrz(
        kind="TD3",
        document_code=_strip(top[0:2]),
        issuing_state=_strip(top[2:5]),
        document_number=_strip(low[0:9]),
        nationality=_strip(low[10:13]),
        date_of_birth=low[13:19],
        sex=low[20],
        date_of_expiry=low[21:27],
        surname=surname,
        given_names=given,
        name_truncated=truncated,
        digits=digits,
    )


def _td1(lines: Sequence[str]) -> Mrz:
    top, middle, bottom = lines
    number, digit = top[5:14], top[14]
    if digit == "<" and top[15] != "<":
        # A number longer than 9: it goes on in the optional data, its check digit last
        # (ICAO 9303 part 5, note j).
        overflow = top[15:30].split("<", 1)[0]
        number, digit = number + overflow[:-1], overflow[-1]
    surname, given, truncated = _names(bottom)
    digits = (
        CheckDigit("document_number", number, digit, 0, may_be_blank=False),
        CheckDigit("date_of_birth", middle[0:6], middle[6], 1),
        CheckDigit("date_of_expiry", middle[8:14], middle[14], 1),
        CheckDigit(
            "composite", top[5:30] + middle[0:7] + middle[8:15] + middle[18:29], middle[29], 1
        ),
    )
    return Mrz(
        kind="TD1",
        document_code=_strip(top[0:2]),
        issuing_state=_strip(top[2:5]),
        document_number=_strip(number),
        nationality=_strip(middle[15:18]),
        date_of_birth=middle[0:6],
        sex=middle[7],
        date_of_expiry=middle[8:14],
        surname=surname,
        given_names=given,
        name_truncated=truncated,
        digits=digits,
    )


def name_variants(printed: str) -> set[str]:
    """``printed`` as the zone could spell it: upper-case A-Z words joined by single spaces.

    Two variants when they differ: ICAO's transliteration (``Ä`` → ``AE``, ``Ø`` → ``OE``)
    and the accent simply dropped (``Ä`` → ``A``); states use either. Hyphens, apostrophes and
    other marks separate words or vanish, as in the zone.
    """
    variants = set()
    for text in (printed.upper().translate(_TRANSLITERATIONS), printed.upper()):
        plain = unicodedata.normalize("NFKD", text)
        plain = "".join(c for c in plain if not unicodedata.combining(c)).replace("'", "")
        variants.add(" ".join(re.sub(r"[^A-Z]+", " ", plain).split()))
    return variants
