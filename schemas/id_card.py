"""`id_card`: national identity cards, including non-Latin scripts.

Field names are generic, and their descriptions name the Chinese resident identity card
(居民身份证) labels, the most common non-Latin card users send. Text stays in its original
script; only ``sex`` and the dates are normalised, so callers can filter on them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.checks import Check, CheckResult, cn_ric, dates, skipped
from schemas.checks.identity import MrzBinding, mrz_checks
from schemas.fields import IsoDate, MrzLine, Sex, ShortText, Text
from schemas.spec import SchemaSpec

__all__ = ["CHECKS", "MAX_VALIDITY_YEARS", "SPEC", "IdCard", "is_chinese_card"]


class IdCard(BaseModel):
    """Fields of a national identity card (front and/or back), transcribed from the image."""

    model_config = ConfigDict(extra="forbid")

    country: ShortText | None = Field(
        default=None,
        description="Issuing country as an ISO 3166-1 alpha-3 code if known (e.g. 'CHN'), "
        "else its name as printed.",
    )
    document_type: ShortText | None = Field(
        default=None,
        description="Card title as printed, e.g. '居民身份证' or 'IDENTITY CARD'.",
    )
    document_number: ShortText | None = Field(
        default=None,
        description="Card or document number, if the card prints one apart from the ID number.",
    )
    id_number: ShortText | None = Field(
        default=None,
        description="Personal identification number, e.g. 公民身份号码 (18 characters, digits "
        "and a possible final 'X') on a Chinese card.",
    )
    name: ShortText | None = Field(
        default=None, description="Full name (姓名) in its original script as printed."
    )
    name_latin: ShortText | None = Field(
        default=None,
        description="Name in Latin letters only if the card prints one; do not transliterate.",
    )
    sex: Sex | None = Field(
        default=None, description="Sex (性别) normalised: 'F' for 女 or female, 'M' for 男 or male."
    )
    ethnicity: ShortText | None = Field(
        default=None, description="Ethnicity (民族) as printed, e.g. '汉'."
    )
    nationality: ShortText | None = Field(default=None, description="Nationality as printed.")
    date_of_birth: IsoDate | None = Field(
        default=None, description="Date of birth (出生) as an ISO 8601 date YYYY-MM-DD."
    )
    address: Text | None = Field(
        default=None, description="Address (住址) as printed, lines joined with spaces."
    )
    issuing_authority: ShortText | None = Field(
        default=None, description="Issuing authority (签发机关) as printed."
    )
    validity_text: ShortText | None = Field(
        default=None,
        description="Validity period (有效期限) as printed, e.g. '2015.03.01-2035.03.01' or "
        "'2020.01.01-长期'.",
    )
    valid_from: IsoDate | None = Field(
        default=None, description="Start of validity or date of issue as YYYY-MM-DD."
    )
    valid_until: IsoDate | None = Field(
        default=None,
        description="End of validity as YYYY-MM-DD; null if open-ended (长期) or not shown.",
    )
    mrz_lines: list[MrzLine] | None = Field(
        default=None,
        max_length=3,
        description="Machine-readable zone lines top to bottom; null if there is no MRZ.",
    )


MAX_VALIDITY_YEARS = 21
"""Chinese cards run 5, 10 or 20 years (or open-ended); other states' cards run less."""


def is_chinese_card(card: IdCard) -> bool:
    """A Chinese resident identity card, by country or title: its number carries checks."""
    country = (card.country or "").strip().upper()
    return country in ("CHN", "CHINA", "中国") or "身份证" in (card.document_type or "")


def _chinese_only(check: Check) -> Check:
    """Skip ``check`` on cards other than the Chinese resident identity card."""

    def only(card: IdCard) -> CheckResult:
        result = check(card)
        if is_chinese_card(card):
            return result
        return skipped(result.name, result.fields, "not a Chinese resident identity card")

    return only


@_chinese_only
def _ric_check_character(card: IdCard) -> CheckResult:
    return cn_ric.check_character("/id_number", card.id_number)


@_chinese_only
def _ric_birth_date(card: IdCard) -> CheckResult:
    return cn_ric.birth_date_matches(
        "/id_number", card.id_number, "/date_of_birth", card.date_of_birth
    )


@_chinese_only
def _ric_sex(card: IdCard) -> CheckResult:
    return cn_ric.sex_matches("/id_number", card.id_number, "/sex", card.sex)


CHECKS = (
    *mrz_checks(
        MrzBinding(
            "TD1",
            {
                "document_number": "document_number",
                "full_name": "name_latin",
                "nationality": "nationality",
                "issuing_state": "country",
                "date_of_birth": "date_of_birth",
                "sex": "sex",
                "date_of_expiry": "valid_until",
            },
        )
    ),
    _ric_check_character,
    _ric_birth_date,
    _ric_sex,
    dates.order_check("dates.order", "date_of_birth", "valid_from", "valid_until"),
    dates.validity_check("dates.validity_period", "valid_from", "valid_until", MAX_VALIDITY_YEARS),
)
"""A TD1 zone where present; the Chinese ID number's check character, birth date and sex
against the printed ones (skipped on other cards); date sanity."""

SPEC: SchemaSpec[IdCard] = SchemaSpec(
    name="id_card",
    description="National identity card, any script (incl. the Chinese resident ID card).",
    model=IdCard,
    instructions=(
        "The image shows a national identity card, possibly in a non-Latin script. Keep the "
        "validity period as printed too."
    ),
    num_crops=16,
    max_tokens=768,
    checks=CHECKS,
    # A card prints a personal number (China), a card number (Germany), or both.
    required=("/name", "/date_of_birth"),
    required_one_of=(("/id_number", "/document_number"),),
    # Printed values; country (an ISO code the model may infer from the country's name)
    # and sex (one character) are derived, like name_latin's absence.
    transcribed=(
        "/document_type",
        "/document_number",
        "/id_number",
        "/name",
        "/name_latin",
        "/ethnicity",
        "/nationality",
        "/date_of_birth",
        "/address",
        "/issuing_authority",
        "/validity_text",
        "/valid_from",
        "/valid_until",
        "/mrz_lines/*",
    ),
    example=IdCard(
        country="CHN",
        document_type="居民身份证",
        document_number=None,
        id_number="11010519491231002X",
        name="张三",
        name_latin=None,
        sex="F",
        ethnicity="汉",
        nationality=None,
        date_of_birth="1949-12-31",
        address="北京市朝阳区建国路1号",
        issuing_authority="北京市公安局朝阳分局",
        validity_text="2015.03.01-2035.03.01",
        valid_from="2015-03-01",
        valid_until="2035-03-01",
        mrz_lines=None,
    ),
)
"""The registered spec; the example is a made-up Chinese resident ID card."""
