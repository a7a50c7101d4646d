"""The Chinese resident identity card number (居民身份证号码), checked against the card.

The 18-character number (GB 11643-1999) encodes the date of birth (characters 7-14) and the
sex (the 17th: odd for male, even for female), and ends in an ISO 7064 MOD 11-2 check
character (``0``-``9`` or ``X``). `python-stdnum` (``stdnum.cn.ric``) computes the check
character and reads the date; the sex digit is one line here.

    >>> check_character("/id_number", "11010519491231002X").status
    'pass'
    >>> check_character("/id_number", "11010519491231002Y").status
    'fail'
"""

from __future__ import annotations

import re

from stdnum.cn import ric

from schemas.checks.result import CheckResult, failed, passed, skipped

__all__ = ["birth_date_matches", "check_character", "sex_matches"]

_FORMAT = re.compile(r"^[0-9]{17}[0-9X]$")


def _number(text: str) -> str | None:
    """The number without spaces, upper-case, if it has the 18-character shape."""
    compact = re.sub(r"\s", "", text).upper()
    return compact if _FORMAT.match(compact) else None


def check_character(pointer: str, number: str | None) -> CheckResult:
    name = "cn_ric.check_character"
    if number is None:
        return skipped(name, [pointer], "no ID number was read")
    compact = _number(number)
    if compact is None:
        return failed(
            name, [pointer], f"{number!r} is not 17 digits and a digit or X; read it again"
        )
    expected = ric.calc_check_digit(compact)
    if compact[-1] == expected:
        return passed(name, [pointer], f"check character {expected} (ISO 7064 MOD 11-2)")
    return failed(
        name,
        [pointer],
        f"the ID number's check character is {compact[-1]} but its digits give {expected}; "
        f"read the ID number again",
    )


def birth_date_matches(
    pointer: str, number: str | None, dob_pointer: str, dob: str | None
) -> CheckResult:
    name = "cn_ric.date_of_birth"
    fields = [pointer, dob_pointer]
    compact = _number(number) if number is not None else None
    if compact is None or dob is None:
        return skipped(name, fields, "needs an 18-character ID number and the date of birth")
    encoded = f"{compact[6:10]}-{compact[10:12]}-{compact[12:14]}"
    if encoded == dob:
        return passed(name, fields, f"the ID number encodes the date of birth {dob}")
    return failed(
        name,
        fields,
        f"the ID number encodes the birth date {encoded}, the card prints {dob}; read both again",
    )


def sex_matches(pointer: str, number: str | None, sex_pointer: str, sex: str | None) -> CheckResult:
    name = "cn_ric.sex"
    fields = [pointer, sex_pointer]
    compact = _number(number) if number is not None else None
    if compact is None or sex is None:
        return skipped(name, fields, "needs an 18-character ID number and the sex")
    encoded = "M" if int(compact[16]) % 2 else "F"
    if encoded == sex:
        return passed(name, fields, f"the ID number encodes sex {sex}")
    return failed(
        name, fields, f"the ID number encodes sex {encoded}, the card reads {sex}; read both again"
    )
