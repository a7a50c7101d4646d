"""The schemas' deterministic checks, on valid data and on data with one character changed.

Invoices and receipts have their own module (``test_schemas_bills.py``), the zones' layout
theirs (``test_schemas_mrz.py``).

Valid zones and ID numbers are built here with the tests' own arithmetic (the ICAO 7-3-1 sum
and the GB 11643 weights), not with the code under test; a corrupted copy must fail the right
check, naming the right fields.
"""

from __future__ import annotations

from typing import Any

import pytest

import schemas
from schemas import IdCard, Passport, Table
from schemas.checks import CheckResult
from schemas.checks import mrz as mrz_module

# -- the tests' own arithmetic -------------------------------------------------------------


def icao_digit(field: str) -> str:
    values = {**{str(d): d for d in range(10)}, "<": 0}
    values |= {chr(ord("A") + i): 10 + i for i in range(26)}
    return str(sum(values[c] * (7, 3, 1)[i % 3] for i, c in enumerate(field)) % 10)


def td3(
    number: str = "X1234567",
    state: str = "UTO",
    nationality: str = "UTO",
    dob: str = "850315",
    sex: str = "M",
    expiry: str = "300101",
    personal: str = "",
    name: str = "DOE<<JOHN<PAUL",
) -> list[str]:
    number_f, personal_f = number.ljust(9, "<"), personal.ljust(14, "<")
    personal_digit = "<" if not personal else icao_digit(personal_f)
    line2 = (
        number_f
        + icao_digit(number_f)
        + nationality.ljust(3, "<")
        + dob
        + icao_digit(dob)
        + sex
        + expiry
        + icao_digit(expiry)
        + personal_f
        + personal_digit
    )
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    return [f"P<{state.ljust(3, '<')}{name}".ljust(44, "<"), line2 + icao_digit(composite)]


def td1(number: str = "AB1234567", dob: str = "900102", expiry: str = "310630") -> list[str]:
    if len(number) <= 9:
        doc = number.ljust(9, "<") + icao_digit(number.ljust(9, "<"))
        line1 = ("I<UTO" + doc).ljust(30, "<")
    else:  # ICAO 9303 part 5: the rest of the number and its digit in the optional data
        line1 = ("I<UTO" + number[:9] + "<" + number[9:] + icao_digit(number)).ljust(30, "<")
    line2 = (dob + icao_digit(dob) + "F" + expiry + icao_digit(expiry) + "UTO").ljust(29, "<")
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    return [line1, line2 + icao_digit(composite), "SMITH<<JANE<ANN".ljust(30, "<")]


def ric(area_dob_seq: str) -> str:
    """A valid 18-character Chinese ID number from its first 17 digits (GB 11643-1999)."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(area_dob_seq, weights, strict=True))
    return area_dob_seq + "10X98765432"[total % 11]


def results(name: str, data: Any) -> dict[str, CheckResult]:
    out = schemas.get(name).run_checks(data)
    return {r.name: r for r in out}


def failures(name: str, data: Any) -> dict[str, list[str]]:
    return {r.name: r.fields for r in schemas.get(name).run_checks(data) if r.status == "fail"}


def passport(**changes: Any) -> Passport:
    base = Passport(
        document_type="P",
        issuing_country="UTO",
        passport_number="X1234567",
        surname="DOE",
        given_names="JOHN PAUL",
        nationality="UTO",
        date_of_birth="1985-03-15",
        sex="M",
        date_of_issue="2020-01-02",
        date_of_expiry="2030-01-01",
        mrz_lines=td3(),
    )
    return base.model_copy(update=changes)


# -- ICAO check digits and zones -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "digit"),
    [("L898902C3", "6"), ("740812", "2"), ("120415", "9"), ("ZE184226B<<<<<", "1"), ("<<<", "0")],
)
def test_check_digits_of_icao_9303_specimen(field: str, digit: str) -> None:
    assert mrz_module.check_digit(field) == digit == icao_digit(field)


def test_specimen_passport_passes_every_check() -> None:
    spec = schemas.get("passport")
    statuses = {r.name: r.status for r in spec.run_checks(spec.example)}
    assert "fail" not in statuses.values()
    assert statuses["mrz.check_digit.composite"] == "pass"
    assert statuses["mrz.matches.nationality"] == "skipped"  # 'UTOPIAN' is a name, not a code


def test_constructed_passport_passes_every_check() -> None:
    statuses = {r.name: r.status for r in schemas.get("passport").run_checks(passport())}
    assert set(statuses.values()) == {"pass"}, statuses


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (2, {"mrz.check_digit.document_number", "mrz.matches.passport_number"}),
        (9, {"mrz.check_digit.document_number"}),
        (15, {"mrz.check_digit.date_of_birth", "mrz.matches.date_of_birth"}),
        (19, {"mrz.check_digit.date_of_birth"}),
        (24, {"mrz.check_digit.date_of_expiry", "mrz.matches.date_of_expiry"}),
        (30, {"mrz.check_digit.personal_number"}),
        (43, set()),
    ],
)
def test_one_changed_character_in_the_zone_fails_its_checks(
    position: int, expected: set[str]
) -> None:
    line = td3(personal="ZE184226B")[1]
    # a digit becomes another digit, a letter or filler another letter: the zone stays legal
    new = "7" if line[position] != "7" else "8"
    if line[position].isalpha() or line[position] == "<":
        new = "Q" if line[position] != "Q" else "R"
    zone = [td3(personal="ZE184226B")[0], line[:position] + new + line[position + 1 :]]
    found = failures("passport", passport(mrz_lines=zone))
    assert set(found) == expected | {"mrz.check_digit.composite"}
    for name in found:
        assert "/mrz_lines/1" in found[name]


@pytest.mark.parametrize(
    ("field", "value", "line"),
    [
        ("passport_number", "X1234561", 1),
        ("surname", "DOF", 0),
        ("given_names", "JOHN PAUK", 0),
        ("nationality", "UTA", 1),
        ("issuing_country", "UTA", 0),
        ("date_of_birth", "1985-03-16", 1),
        ("sex", "F", 1),
        ("date_of_expiry", "2030-01-07", 1),
    ],
)
def test_one_changed_printed_field_fails_its_cross_check(field: str, value: str, line: int) -> None:
    assert failures("passport", passport(**{field: value})) == {
        f"mrz.matches.{field}": [f"/{field}", f"/mrz_lines/{line}"]
    }


def test_names_match_with_either_transliteration_and_when_truncated() -> None:
    zone = td3(name="MUELLER<<JOSE<MARIA")
    for printed in ("Müller", "MUELLER"):
        assert (
            failures(
                "passport", passport(surname=printed, given_names="José María", mrz_lines=zone)
            )
            == {}
        )
    long = "WOLFESCHLEGELSTEINHAUSENBERGERDORFF<<HUBERT"
    cut = td3(name=long)  # 2 + 3 + 42 > 44: the zone cuts the given name short
    assert not cut[0].endswith("<")
    ok = passport(surname=long.split("<<")[0], given_names="HUBERT", mrz_lines=cut)
    assert "mrz.matches.given_names" not in failures("passport", ok)


def test_missing_zone_or_field_skips_instead_of_failing() -> None:
    found = results("passport", passport(mrz_lines=None, surname=None))
    assert all(r.status == "skipped" for n, r in found.items() if n.startswith("mrz."))
    found = results("passport", passport(surname=None))
    assert found["mrz.matches.surname"].status == "skipped"
    assert found["mrz.check_digit.document_number"].status == "pass"


def test_zone_of_the_wrong_shape_fails_the_format_check() -> None:
    short = [line[:43] for line in td3()]
    found = results("passport", passport(mrz_lines=short))
    assert found["mrz.format"].status == "fail" and found["mrz.format"].fields == ["/mrz_lines"]
    assert found["mrz.check_digit.composite"].status == "skipped"
    found = results("passport", passport(mrz_lines=td1()))  # an ID card's zone on a passport
    assert found["mrz.format"].status == "fail" and "TD3" in found["mrz.format"].message


def test_parse_refuses_characters_outside_the_zone_alphabet() -> None:
    with pytest.raises(mrz_module.MrzFormatError, match="line 2"):
        mrz_module.parse([td3()[0], td3()[1][:-1] + "a"])


# -- dates --------------------------------------------------------------------------------


def test_passport_dates_out_of_order_name_both_fields() -> None:
    found = failures("passport", passport(date_of_issue="1980-01-01"))
    assert found["dates.order"] == ["/date_of_birth", "/date_of_issue"]


def test_passport_validity_period_must_be_plausible() -> None:
    assert "dates.validity_period" in failures("passport", passport(date_of_issue="2018-12-31"))
    # leap day + 11 years: 28 February is the last plausible day
    leap = passport(date_of_issue="2020-02-29", date_of_expiry="2031-02-28", mrz_lines=None)
    assert "dates.validity_period" not in failures("passport", leap)
    late = passport(date_of_issue="2020-02-29", date_of_expiry="2031-03-01", mrz_lines=None)
    assert "dates.validity_period" in failures("passport", late)


def test_an_impossible_calendar_day_fails_naming_its_field() -> None:
    found = results("passport", passport(date_of_issue="2021-02-29", mrz_lines=None))
    assert found["dates.order"].status == "fail"
    assert found["dates.order"].fields == ["/date_of_issue"]


# -- ID cards -----------------------------------------------------------------------------


def card(**changes: Any) -> IdCard:
    base = IdCard(
        country="CHN",
        document_type="居民身份证",
        id_number=ric("11010519491231002"),
        name="张三",
        sex="F",
        date_of_birth="1949-12-31",
        valid_from="2015-03-01",
        valid_until="2035-03-01",
    )
    return base.model_copy(update=changes)


def test_chinese_card_passes_and_example_matches_stdnum() -> None:
    assert ric("11010519491231002") == "11010519491231002X"
    statuses = {r.name: r.status for r in schemas.get("id_card").run_checks(card())}
    assert statuses["cn_ric.check_character"] == statuses["cn_ric.sex"] == "pass"
    assert "fail" not in statuses.values()


@pytest.mark.parametrize("position", range(17))
def test_any_changed_digit_of_the_chinese_id_fails_its_check_character(position: int) -> None:
    number = ric("11010519491231002")
    changed = number[:position] + str((int(number[position]) + 1) % 10) + number[position + 1 :]
    found = failures("id_card", card(id_number=changed))
    assert found["cn_ric.check_character"] == ["/id_number"]


def test_chinese_id_birth_date_and_sex_against_the_printed_ones() -> None:
    found = failures("id_card", card(date_of_birth="1949-12-30"))
    assert found == {"cn_ric.date_of_birth": ["/id_number", "/date_of_birth"]}
    assert failures("id_card", card(sex="M")) == {"cn_ric.sex": ["/id_number", "/sex"]}
    male = ric("11010519800101001")  # 17th digit 1: odd, male
    assert failures("id_card", card(id_number=male, sex="M", date_of_birth="1980-01-01")) == {}


def test_chinese_id_checks_skip_other_cards_and_missing_numbers() -> None:
    other = results("id_card", card(country="DEU", document_type="PERSONALAUSWEIS"))
    assert other["cn_ric.check_character"].status == "skipped"
    assert results("id_card", card(id_number=None))["cn_ric.sex"].status == "skipped"
    bad = failures("id_card", card(id_number="1101051949123100"))
    assert bad == {"cn_ric.check_character": ["/id_number"]}


def id_card_td1(**changes: Any) -> IdCard:
    base = IdCard(
        country="UTO",
        document_number="AB1234567",
        name_latin="JANE ANN SMITH",
        nationality="UTO",
        sex="F",
        date_of_birth="1990-01-02",
        valid_until="2031-06-30",
        mrz_lines=td1(),
    )
    return base.model_copy(update=changes)


def test_td1_card_passes_and_a_changed_number_fails() -> None:
    assert failures("id_card", id_card_td1()) == {}
    zone = td1()
    zone[0] = zone[0][:6] + "C" + zone[0][7:]
    assert failures("id_card", id_card_td1(mrz_lines=zone)) == {
        "mrz.check_digit.document_number": ["/mrz_lines/0"],
        "mrz.check_digit.composite": ["/mrz_lines/1"],
        "mrz.matches.document_number": ["/document_number", "/mrz_lines/0"],
    }


def test_td1_long_document_number_continues_in_the_optional_data() -> None:
    long = "AB123456789012"
    zone = td1(number=long)
    assert mrz_module.parse(zone).document_number == long
    assert failures("id_card", id_card_td1(document_number=long, mrz_lines=zone)) == {}


def test_td1_full_name_in_any_order() -> None:
    assert failures("id_card", id_card_td1(name_latin="SMITH JANE ANN")) == {}
    assert failures("id_card", id_card_td1(name_latin="JANE SMITH")) == {
        "mrz.matches.name_latin": ["/name_latin", "/mrz_lines/2"]
    }


# -- tables -------------------------------------------------------------------------------


def test_table_rows_must_have_one_cell_per_column() -> None:
    good = Table(columns=["a", "b"], rows=[["1", "2"], ["3", "4"]])
    assert results("table", good)["table.row_widths"].status == "pass"
    bad = Table(columns=["a", "b"], rows=[["1", "2"], ["3"], ["4", "5", "6"]])
    assert failures("table", bad) == {"table.row_widths": ["/columns", "/rows/1", "/rows/2"]}
    assert results("table", Table(columns=[], rows=[["x"]]))["table.row_widths"].status == (
        "skipped"
    )


# -- every schema -------------------------------------------------------------------------

EMPTY = {
    "passport": {},
    "id_card": {},
    "invoice": {"line_items": []},
    "receipt": {"line_items": []},
    "table": {"columns": [], "rows": []},
}


@pytest.mark.parametrize("spec", schemas.all_specs(), ids=schemas.names())
def test_every_check_returns_one_result_with_known_fields(spec: schemas.SchemaSpec[Any]) -> None:
    example = spec.run_checks(spec.example)
    names = [r.name for r in example]
    assert len(names) == len(set(names)) == len(spec.checks)
    fields = spec.model.model_fields
    for result in example:
        assert result.message and result.fields
        for pointer in result.fields:
            assert pointer.startswith("/") and pointer.split("/")[1] in fields, pointer


@pytest.mark.parametrize("name", EMPTY)
def test_nothing_read_means_every_check_skipped(name: str) -> None:
    spec = schemas.get(name)
    empty = spec.run_checks(spec.model.model_validate(EMPTY[name]))
    assert {r.status for r in empty} == {"skipped"}
    assert [r.name for r in empty] == [r.name for r in spec.run_checks(spec.example)]


def test_document_kinds_declare_checks() -> None:
    assert [s.name for s in schemas.all_specs() if s.checks] == list(EMPTY)
