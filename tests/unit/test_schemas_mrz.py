"""Machine-readable zones against ICAO Doc 9303 itself: layouts, specimens, filler digits.

The field positions below are copied from the standard (part 4 for TD3, the passport's
2 x 44 zone; part 5 for TD1, the card's 3 x 30 zone), 1-based and inclusive as it prints
them, and zones are built and read here with them: nothing is taken from ``mrz.py``, so a
wrong slice in the code cannot agree with itself. The check digit is the tests' own 7-3-1
sum (part 3, 4.9).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

import schemas
from schemas import IdCard, Passport
from schemas.checks import mrz

Layout = Mapping[str, tuple[int, int]]

# ICAO 9303 part 4, 4.2.2: the two lines of a TD3 zone.
TD3_UPPER: Layout = {"document_code": (1, 2), "issuing_state": (3, 5), "name": (6, 44)}
TD3_LOWER: Layout = {
    "document_number": (1, 9),
    "document_number_check": (10, 10),
    "nationality": (11, 13),
    "date_of_birth": (14, 19),
    "date_of_birth_check": (20, 20),
    "sex": (21, 21),
    "date_of_expiry": (22, 27),
    "date_of_expiry_check": (28, 28),
    "personal_number": (29, 42),
    "personal_number_check": (43, 43),
    "composite_check": (44, 44),
}
TD3_COMPOSITE = ((1, 10), (14, 20), (22, 43))  # lower line
"""Part 4: the composite digit covers positions 1-10, 14-20 and 22-43 of the lower line."""

# ICAO 9303 part 5, 4.2.2: the three lines of a TD1 zone.
TD1_LINE1: Layout = {
    "document_code": (1, 2),
    "issuing_state": (3, 5),
    "document_number": (6, 14),
    "document_number_check": (15, 15),
    "optional_data": (16, 30),
}
TD1_LINE2: Layout = {
    "date_of_birth": (1, 6),
    "date_of_birth_check": (7, 7),
    "sex": (8, 8),
    "date_of_expiry": (9, 14),
    "date_of_expiry_check": (15, 15),
    "nationality": (16, 18),
    "optional_data": (19, 29),
    "composite_check": (30, 30),
}
TD1_LINE3: Layout = {"name": (1, 30)}
TD1_COMPOSITE = ((0, (6, 30)), (1, (1, 7)), (1, (9, 15)), (1, (19, 29)))
"""Part 5: the composite digit covers line 1 positions 6-30, line 2 positions 1-7, 9-15
and 19-29."""

# ICAO 9303 part 5, appendix (specimen TD1 card) and part 4 (specimen TD3 passport).
TD1_SPECIMEN = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
]
TD3_SPECIMEN = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]


def icao_digit(field: str) -> str:
    values = {**{str(d): d for d in range(10)}, "<": 0}
    values |= {chr(ord("A") + i): 10 + i for i in range(26)}
    return str(sum(values[c] * (7, 3, 1)[i % 3] for i, c in enumerate(field)) % 10)


def cut(line: str, span: tuple[int, int]) -> str:
    """The characters at 1-based, inclusive positions ``span``, as the standard numbers them."""
    return line[span[0] - 1 : span[1]]


def put(line: str, span: tuple[int, int], value: str) -> str:
    width = span[1] - span[0] + 1
    assert len(value) <= width, (value, span)
    return line[: span[0] - 1] + value.ljust(width, "<") + line[span[1] :]


def td3_zone(**fields: str) -> list[str]:
    """A TD3 zone from field values, every check digit computed unless given."""
    upper, lower = "<" * 44, "<" * 44
    upper = put(upper, TD3_UPPER["document_code"], fields.get("document_code", "P"))
    upper = put(upper, TD3_UPPER["issuing_state"], fields.get("issuing_state", "UTO"))
    upper = put(upper, TD3_UPPER["name"], fields.get("name", "DOE<<JANE"))
    values = {
        "document_number": "X1234567",
        "nationality": "UTO",
        "date_of_birth": "850315",
        "sex": "F",
        "date_of_expiry": "300101",
        "personal_number": "",
    } | {k: v for k, v in fields.items() if k in TD3_LOWER}
    for name in ("document_number", "date_of_birth", "date_of_expiry", "personal_number"):
        lower = put(lower, TD3_LOWER[name], values[name])
        digit = values.get(f"{name}_check") or icao_digit(cut(lower, TD3_LOWER[name]))
        lower = put(lower, TD3_LOWER[f"{name}_check"], digit)
    for name in ("nationality", "sex"):
        lower = put(lower, TD3_LOWER[name], values[name])
    composite = "".join(cut(lower, span) for span in TD3_COMPOSITE)
    digit = values.get("composite_check") or icao_digit(composite)
    return [upper, put(lower, TD3_LOWER["composite_check"], digit)]


def td1_zone(**fields: str) -> list[str]:
    """A TD1 zone from field values, every check digit computed unless given."""
    lines = ["<" * 30] * 3
    one = {"document_code": "I", "issuing_state": "UTO", "document_number": "AB1234567"}
    one |= {k: v for k, v in fields.items() if k in TD1_LINE1}
    for name in ("document_code", "issuing_state", "document_number"):
        lines[0] = put(lines[0], TD1_LINE1[name], one[name])
    digit = one.get("document_number_check") or icao_digit(
        cut(lines[0], TD1_LINE1["document_number"])
    )
    lines[0] = put(lines[0], TD1_LINE1["document_number_check"], digit)
    two = {"date_of_birth": "900102", "sex": "F", "date_of_expiry": "310630"}
    two |= {"nationality": "UTO"} | {k: v for k, v in fields.items() if k in TD1_LINE2}
    for name in ("date_of_birth", "date_of_expiry"):
        lines[1] = put(lines[1], TD1_LINE2[name], two[name])
        digit = two.get(f"{name}_check") or icao_digit(cut(lines[1], TD1_LINE2[name]))
        lines[1] = put(lines[1], TD1_LINE2[f"{name}_check"], digit)
    for name in ("sex", "nationality"):
        lines[1] = put(lines[1], TD1_LINE2[name], two[name])
    composite = "".join(cut(lines[row], span) for row, span in TD1_COMPOSITE)
    lines[1] = put(lines[1], TD1_LINE2["composite_check"], icao_digit(composite))
    lines[2] = put(lines[2], TD1_LINE3["name"], fields.get("name", "SMITH<<JANE"))
    return lines


def digit_status(kind: str, zone: list[str], name: str) -> str:
    data = Passport(mrz_lines=zone) if kind == "passport" else IdCard(mrz_lines=zone)
    found = {r.name: r for r in schemas.get(kind).run_checks(data)}
    return found[f"mrz.check_digit.{name}"].status


# -- the specimens ------------------------------------------------------------------------


def test_the_builders_reproduce_icao_specimens() -> None:
    """The layouts above are right: they rebuild ICAO's own specimens character for
    character."""
    assert td3_zone(
        name="ERIKSSON<<ANNA<MARIA", document_number="L898902C3", date_of_birth="740812",
        date_of_expiry="120415", personal_number="ZE184226B",
    ) == TD3_SPECIMEN  # fmt: skip
    zone = td1_zone(
        document_number="D23145890", date_of_birth="740812", date_of_expiry="120415",
        name="ERIKSSON<<ANNA<MARIA",
    )  # fmt: skip
    assert zone == TD1_SPECIMEN


def test_td1_specimen_reads_as_the_standard_lays_it_out() -> None:
    line1, line2, line3 = TD1_SPECIMEN
    zone = mrz.parse(TD1_SPECIMEN)
    assert zone.kind == "TD1"
    assert zone.document_code == cut(line1, TD1_LINE1["document_code"]).strip("<") == "I"
    assert zone.issuing_state == cut(line1, TD1_LINE1["issuing_state"]) == "UTO"
    assert zone.document_number == cut(line1, TD1_LINE1["document_number"]) == "D23145890"
    assert zone.date_of_birth == cut(line2, TD1_LINE2["date_of_birth"]) == "740812"
    assert zone.sex == cut(line2, TD1_LINE2["sex"]) == "F"
    assert zone.date_of_expiry == cut(line2, TD1_LINE2["date_of_expiry"]) == "120415"
    assert zone.nationality == cut(line2, TD1_LINE2["nationality"]) == "UTO"
    assert (zone.surname, zone.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert cut(line3, TD1_LINE3["name"]).startswith("ERIKSSON<<ANNA<MARIA")
    expected = {
        "document_number": (cut(line1, TD1_LINE1["document_number"]),
                            cut(line1, TD1_LINE1["document_number_check"])),
        "date_of_birth": (cut(line2, TD1_LINE2["date_of_birth"]),
                          cut(line2, TD1_LINE2["date_of_birth_check"])),
        "date_of_expiry": (cut(line2, TD1_LINE2["date_of_expiry"]),
                           cut(line2, TD1_LINE2["date_of_expiry_check"])),
        "composite": ("".join(cut(TD1_SPECIMEN[row], span) for row, span in TD1_COMPOSITE),
                      cut(line2, TD1_LINE2["composite_check"])),
    }  # fmt: skip
    assert {d.name: (d.covered, d.digit) for d in zone.digits} == expected
    assert [d.digit for d in zone.digits] == ["7", "2", "9", "6"]
    for covered, digit in expected.values():
        assert icao_digit(covered) == digit
    assert all(d.valid for d in zone.digits)


def test_td3_specimen_reads_as_the_standard_lays_it_out() -> None:
    upper, lower = TD3_SPECIMEN
    zone = mrz.parse(TD3_SPECIMEN)
    assert zone.issuing_state == cut(upper, TD3_UPPER["issuing_state"]) == "UTO"
    assert zone.document_number == cut(lower, TD3_LOWER["document_number"]) == "L898902C3"
    assert zone.nationality == cut(lower, TD3_LOWER["nationality"])
    assert zone.date_of_birth == cut(lower, TD3_LOWER["date_of_birth"])
    assert zone.sex == cut(lower, TD3_LOWER["sex"])
    assert zone.date_of_expiry == cut(lower, TD3_LOWER["date_of_expiry"])
    digits = {d.name: (d.covered, d.digit) for d in zone.digits}
    for name in ("document_number", "date_of_birth", "date_of_expiry", "personal_number"):
        assert digits[name] == (
            cut(lower, TD3_LOWER[name]),
            cut(lower, TD3_LOWER[f"{name}_check"]),
        )
    composite = "".join(cut(lower, span) for span in TD3_COMPOSITE)
    assert digits["composite"] == (composite, cut(lower, TD3_LOWER["composite_check"]))
    assert all(icao_digit(covered) == digit for covered, digit in digits.values())


def test_the_specimen_card_passes_the_id_card_checks() -> None:
    card = IdCard(
        country="UTO",
        document_number="D23145890",
        name_latin="ANNA MARIA ERIKSSON",
        nationality="UTO",
        sex="F",
        date_of_birth="1974-08-12",
        valid_until="2012-04-15",
        mrz_lines=TD1_SPECIMEN,
    )
    statuses = {r.name: r.status for r in schemas.get("id_card").run_checks(card)}
    mrz_statuses = {s for name, s in statuses.items() if name.startswith("mrz.")}
    assert mrz_statuses == {"pass"}, statuses


# -- '<' in place of a check digit --------------------------------------------------------


@pytest.mark.parametrize("personal_check", ["<", "0"])
def test_td3_unused_personal_number_may_carry_filler_or_zero_as_its_digit(
    personal_check: str,
) -> None:
    zone = td3_zone(personal_number="", personal_number_check=personal_check)
    assert cut(zone[1], TD3_LOWER["personal_number_check"]) == personal_check
    assert digit_status("passport", zone, "personal_number") == "pass"
    assert digit_status("passport", zone, "composite") == "pass"


def test_td3_filler_digit_is_wrong_when_the_personal_number_is_used() -> None:
    zone = td3_zone(personal_number="ZE184226B", personal_number_check="<")
    assert digit_status("passport", zone, "personal_number") == "fail"


@pytest.mark.parametrize(
    "field", ["document_number_check", "date_of_birth_check", "date_of_expiry_check"]
)
def test_td3_filler_is_never_a_check_digit_elsewhere(field: str) -> None:
    zone = td3_zone(**{field: "<"})
    assert digit_status("passport", zone, field.removesuffix("_check")) == "fail"


def test_td3_filler_composite_digit_fails() -> None:
    zone = td3_zone(composite_check="<")
    assert digit_status("passport", zone, "composite") == "fail"


@pytest.mark.parametrize(
    ("field", "digit"),
    [
        ("document_number_check", "document_number"),
        ("date_of_birth_check", "date_of_birth"),
        ("date_of_expiry_check", "date_of_expiry"),
    ],
)
def test_td1_filler_is_never_a_check_digit(field: str, digit: str) -> None:
    zone = td1_zone(**{field: "<"})
    assert cut(zone[0 if "document" in field else 1], (TD1_LINE1 | TD1_LINE2)[field]) == "<"
    assert digit_status("id_card", zone, digit) == "fail"


# -- a document number of nothing but filler ----------------------------------------------


def test_td3_all_filler_document_number_fails_though_its_digit_adds_up() -> None:
    zone = td3_zone(document_number="")
    assert cut(zone[1], TD3_LOWER["document_number"]) == "<" * 9
    assert cut(zone[1], TD3_LOWER["document_number_check"]) == icao_digit("<" * 9) == "0"
    assert digit_status("passport", zone, "document_number") == "fail"
    assert digit_status("passport", zone, "composite") == "pass"
    found = {r.name: r for r in schemas.get("passport").run_checks(Passport(mrz_lines=zone))}
    assert "blank" in found["mrz.check_digit.document_number"].message


def test_td1_all_filler_document_number_fails() -> None:
    zone = td1_zone(document_number="")
    assert cut(zone[0], TD1_LINE1["document_number"]) == "<" * 9
    assert digit_status("id_card", zone, "document_number") == "fail"


def test_unknown_dates_of_filler_still_pass_with_their_computed_digit() -> None:
    """Part 3 writes an unknown date of birth as filler; its digit is the sum's 0."""
    zone = td3_zone(date_of_birth="<<<<<<")
    assert digit_status("passport", zone, "date_of_birth") == "pass"
    zone = td3_zone(date_of_birth="<<<<<<", date_of_birth_check="<")
    assert digit_status("passport", zone, "date_of_birth") == "fail"
