"""How a page may print a value: normalised text, the numbers a string can mean, the
spellings of a date, the look-alike characters OCR reads for digits.

Grounding (`grounding.ground`) compares an answer's values with a page's words through these;
they are pure functions of strings, kept apart from the matching so each can be read alone.

    >>> normalise(" Invoice  No.:")
    'invoice no'
    >>> sorted(amount_values("1.253,70 EUR"))
    [Decimal('1253.70')]
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

__all__ = [
    "CONFUSABLE",
    "CURRENCIES",
    "CURRENCY_CODES",
    "EDGE",
    "ISO_DATE",
    "MONTHS",
    "MRZ_LINE",
    "NUMBER",
    "amount_values",
    "date_spellings",
    "normalise",
    "number_spellings",
    "strip_currency",
]

CURRENCIES = {
    "€": "eur",
    "$": "usd",
    "£": "gbp",
    "¥": "jpy",
    "₹": "inr",
    "₩": "krw",
    "₽": "rub",
    "₺": "try",
    "zł": "pln",
    "kč": "czk",
    "fr.": "chf",
}
CURRENCY_CODES = frozenset(CURRENCIES.values()) | {
    "chf",
    "cad",
    "aud",
    "sek",
    "nok",
    "dkk",
    "cny",
    "hkd",
    "sgd",
    "nzd",
    "mxn",
    "brl",
}
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")
EDGE = " \t:;,.()[]{}\"'«»“”‘’"
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
NUMBER = re.compile(r"^[+-]?\(?[\d.,' \u00a0\u202f]*\d[\d.,' \u00a0\u202f]*\)?$")
MRZ_LINE = re.compile(r"^[A-Z0-9<]{20,}$")
CONFUSABLE = {
    "o": "0",
    "d": "0",
    "q": "0",
    "l": "1",
    "i": "1",
    "|": "1",
    "!": "1",
    "z": "2",
    "s": "5",
    "b": "8",
    "g": "9",
    "t": "7",
    "a": "4",
}
"""Characters OCR reads for digits (on normalised, case-folded text): the only edits to a
digit that fuzzy matching forgives."""


def normalise(text: str) -> str:
    """Case, whitespace, dashes and the punctuation around words removed: ``" Invoice  No.:"``
    → ``"invoice no"``. Punctuation inside a word (``1.253,70``, ``INV-42``) stays."""
    folded = unicodedata.normalize("NFKC", text).translate(_DASHES).casefold()
    return " ".join(w for w in (part.strip(EDGE) for part in folded.split()) if w)


def strip_currency(text: str) -> str:
    out = text
    for symbol in CURRENCIES:
        out = out.replace(symbol, " ")
    words = [w for w in out.split() if w not in CURRENCY_CODES]
    return " ".join(words)


def amount_values(text: str) -> set[Decimal]:
    """Every number ``text`` can mean as a printed amount: ``"1.253,70"`` → {1253.70};
    ``"1.179"`` → {1.179, 1179}; ``"EUR 1 253,70"`` → {1253.70}; not a number → set()."""
    core = strip_currency(normalise(text)).replace(" ", "").replace("'", "")
    negative = core.startswith("-") or (core.startswith("(") and core.endswith(")"))
    core = core.strip("+-()")
    if not core or not NUMBER.match(core):
        return set()
    seps = [c for c in core if c in ".,"]
    readings: list[str] = []
    if not seps:
        readings.append(core)
    else:
        last = max(core.rfind("."), core.rfind(","))
        head, tail = core[:last], core[last + 1 :]
        head_digits = head.replace(".", "").replace(",", "")
        if len(set(seps)) == 2 or seps.count(seps[-1]) == 1:
            readings.append(f"{head_digits}.{tail}")  # the last separator is the decimal one
            if len(tail) == 3 and len(set(seps)) == 1:
                readings.append(head_digits + tail)  # ... or a thousands separator
        else:
            readings.append(core.replace(seps[0], ""))  # repeated: thousands separators
    values = set()
    for reading in readings:
        try:
            value = Decimal(reading)
        except InvalidOperation:
            continue
        values.add(-value if negative else value)
    return values


def number_spellings(value: Decimal) -> list[str]:
    """The usual printed forms of ``value``, for fuzzy comparison against OCR noise."""
    fixed = f"{abs(value):.2f}"
    whole, cents = fixed.split(".")
    grouped = f"{int(whole):,}"
    sign = "-" if value < 0 else ""
    forms = [
        fixed,
        f"{whole},{cents}",
        f"{grouped}.{cents}",
        f"{grouped.replace(',', '.')},{cents}",
        f"{grouped.replace(',', ' ')},{cents}",
        format(abs(value).normalize(), "f"),
    ]
    if abs(value) == abs(value).to_integral_value():
        forms += [whole, grouped, grouped.replace(",", ".")]
    return list(dict.fromkeys(sign + f for f in forms))


def date_spellings(day: date) -> list[str]:
    """The printed forms of ``day`` (normalised): day-month-year in digits and in words, the
    US month-first forms, ISO."""
    d, m, y = day.day, day.month, day.year
    month = MONTHS[m - 1]
    forms = [
        f"{d:02d}.{m:02d}.{y}",
        f"{d}.{m}.{y}",
        f"{d:02d}/{m:02d}/{y}",
        f"{d}/{m}/{y}",
        f"{d:02d}-{m:02d}-{y}",
        f"{y}-{m:02d}-{d:02d}",
        f"{y}/{m:02d}/{d:02d}",
        f"{y}.{m:02d}.{d:02d}",
        f"{m:02d}/{d:02d}/{y}",
        f"{m}/{d}/{y}",
        f"{d:02d} {month[:3]} {y}",
        f"{d} {month[:3]} {y}",
        f"{d:02d} {month} {y}",
        f"{d} {month} {y}",
        f"{month} {d} {y}",
        f"{month[:3]} {d} {y}",
        f"{d:02d}.{m:02d}.{y % 100:02d}",
        f"{d:02d}/{m:02d}/{y % 100:02d}",
    ]
    return list(dict.fromkeys(forms))


# --- what to ground ---------------------------------------------------------------------------
