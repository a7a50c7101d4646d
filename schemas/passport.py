"""`passport`: the data page of an ICAO 9303 machine-readable passport.

Dates come twice: as printed (``"12 JAN/JAN 1990"``, formats vary by country and language)
and normalised to ISO 8601. The printed field comes first on purpose: the model transcribes,
then converts, which is both easier for it and auditable for the caller.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.checks import dates
from schemas.checks.identity import MrzBinding, mrz_checks
from schemas.fields import IsoDate, MrzLine, Sex, ShortText, Text
from schemas.spec import SchemaSpec

__all__ = ["CHECKS", "MAX_VALIDITY_YEARS", "SPEC", "Passport"]

_DATE_TEXT = "exactly as printed, in every language shown (e.g. '12 JAN/JAN 1990')"
_DATE_ISO = "as an ISO 8601 date YYYY-MM-DD; null if the printed date is incomplete"


class Passport(BaseModel):
    """Fields of a passport data page (ICAO 9303 TD3), transcribed from the image."""

    model_config = ConfigDict(extra="forbid")

    document_type: ShortText | None = Field(
        default=None,
        description="Document type code, e.g. 'P' (ordinary), 'PD' (diplomatic), 'PS' (service).",
    )
    issuing_country: ShortText | None = Field(
        default=None,
        description="Issuing state as its ICAO three-letter code as printed, e.g. 'GBR', 'D'.",
    )
    passport_number: ShortText | None = Field(
        default=None, description="Passport number exactly as printed."
    )
    surname: ShortText | None = Field(
        default=None, description="Surname(s) as printed in the Latin-script name field."
    )
    given_names: ShortText | None = Field(
        default=None, description="Given names as printed, separated by spaces."
    )
    nationality: ShortText | None = Field(
        default=None, description="Nationality as printed, usually a three-letter code."
    )
    date_of_birth_text: ShortText | None = Field(
        default=None, description=f"Date of birth {_DATE_TEXT}."
    )
    date_of_birth: IsoDate | None = Field(default=None, description=f"Date of birth {_DATE_ISO}.")
    place_of_birth: ShortText | None = Field(default=None, description="Place of birth as printed.")
    sex: Sex | None = Field(
        default=None, description="Sex as printed: 'F', 'M' or 'X' (unspecified)."
    )
    date_of_issue_text: ShortText | None = Field(
        default=None, description=f"Date of issue {_DATE_TEXT}."
    )
    date_of_issue: IsoDate | None = Field(default=None, description=f"Date of issue {_DATE_ISO}.")
    date_of_expiry_text: ShortText | None = Field(
        default=None, description=f"Date of expiry {_DATE_TEXT}."
    )
    date_of_expiry: IsoDate | None = Field(default=None, description=f"Date of expiry {_DATE_ISO}.")
    authority: ShortText | None = Field(
        default=None, description="Issuing authority or office as printed."
    )
    endorsements: Text | None = Field(
        default=None, description="Endorsements or observations on the data page; null if none."
    )
    mrz_lines: list[MrzLine] | None = Field(
        default=None,
        max_length=3,
        description="Machine-readable zone lines top to bottom (A-Z, 0-9 and '<' only); "
        "null if the MRZ is not visible.",
    )


MAX_VALIDITY_YEARS = 11
"""Passports run at most 10 years; some states add the old passport's remaining months."""


CHECKS = (
    *mrz_checks(
        MrzBinding(
            "TD3",
            {
                "document_number": "passport_number",
                "surname": "surname",
                "given_names": "given_names",
                "nationality": "nationality",
                "issuing_state": "issuing_country",
                "date_of_birth": "date_of_birth",
                "sex": "sex",
                "date_of_expiry": "date_of_expiry",
            },
        )
    ),
    dates.order_check("dates.order", "date_of_birth", "date_of_issue", "date_of_expiry"),
    dates.validity_check(
        "dates.validity_period", "date_of_issue", "date_of_expiry", MAX_VALIDITY_YEARS
    ),
)
"""The TD3 zone's check digits and its agreement with the printed page; date sanity."""

SPEC: SchemaSpec[Passport] = SchemaSpec(
    name="passport",
    description="Passport data page (ICAO 9303): identity fields, dates and the MRZ.",
    model=Passport,
    instructions=(
        "The image shows the data page of a passport. Give each date as printed and as "
        "YYYY-MM-DD. Copy the two machine-readable zone lines at the bottom into mrz_lines."
    ),
    num_crops=16,
    max_tokens=768,
    checks=CHECKS,
    # Who it is, which document, how long it is valid, and the zone that vouches for them.
    required=(
        "/passport_number",
        "/surname",
        "/given_names",
        "/date_of_birth",
        "/date_of_expiry",
        "/mrz_lines",
    ),
    # Printed values; document_type (one letter, 'P', printed only inside the MRZ on
    # many passports) and sex (also one letter) are too short to find reliably, so derived.
    transcribed=(
        "/issuing_country",
        "/passport_number",
        "/surname",
        "/given_names",
        "/nationality",
        "/date_of_birth_text",
        "/date_of_birth",
        "/place_of_birth",
        "/date_of_issue_text",
        "/date_of_issue",
        "/date_of_expiry_text",
        "/date_of_expiry",
        "/authority",
        "/mrz_lines/*",
    ),
    example=Passport(
        document_type="P",
        issuing_country="UTO",
        passport_number="L898902C3",
        surname="ERIKSSON",
        given_names="ANNA MARIA",
        nationality="UTOPIAN",
        date_of_birth_text="12 AUG/AOUT 1974",
        date_of_birth="1974-08-12",
        place_of_birth="ZENITH",
        sex="F",
        date_of_issue_text="16 APR/AVR 2002",
        date_of_issue="2002-04-16",
        date_of_expiry_text="15 APR/AVR 2012",
        date_of_expiry="2012-04-15",
        authority="PASSPORT OFFICE",
        endorsements=None,
        mrz_lines=[
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
        ],
    ),
)
"""The registered spec; the example is ICAO 9303's own specimen."""
