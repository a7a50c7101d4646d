"""The benchmark's generated documents (``harness.pages``): deterministic, varied, every
transcribed value printed in a known place, passports with valid machine-readable zones."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.trust.grounding import transcribed_leaves
from harness.pages import (
    field_boxes,
    format_amount,
    format_date,
    generated_documents,
    generated_invoice,
    generated_passport,
    invoice_page,
)
from schemas.checks.mrz import parse


def test_the_same_seed_gives_the_same_page_and_another_seed_another() -> None:
    assert generated_invoice(4) == generated_invoice(4)
    assert generated_passport(4) == generated_passport(4)
    assert generated_invoice(4).data != generated_invoice(5).data
    assert generated_passport(4).data != generated_passport(5).data


def test_documents_vary_in_number_style_date_style_and_length() -> None:
    invoices = [page for kind, page in generated_documents(20, 0) if kind == "invoice"]
    assert len({p.extra["number_style"] for p in invoices}) >= 4
    assert len({p.extra["date_style"] for p in invoices}) >= 4
    assert len({p.extra["items"] for p in invoices}) >= 4


@pytest.mark.parametrize(
    ("style", "printed"),
    [("de", "1.253,70"), ("en", "1,253.70"), ("ch", "1'253.70"), ("fr", "1 253,70")],
)
def test_amounts_print_in_their_style(style: str, printed: str) -> None:
    assert format_amount(1253.7, style) == printed


def test_dates_print_in_their_style() -> None:
    day = date(2026, 8, 2)
    assert format_date(day, "long") == "August 2, 2026"
    assert format_date(day, "us") == "08/02/2026"
    assert format_date(day, "%d.%m.%Y") == "02.08.2026"


def test_every_transcribed_value_has_a_true_box() -> None:
    for _, page in generated_documents(6, 6):
        for pointer, _ in transcribed_leaves(page.data, page.transcribed):
            assert field_boxes(page, pointer), pointer


def test_a_passport_zone_is_valid_and_agrees_with_the_data() -> None:
    for seed in range(6):
        page = generated_passport(seed)
        zone = parse(page.extra["mrz"])
        assert all(d.valid for d in zone.digits), zone.digits
        assert zone.document_number == page.data["passport_number"]
        assert zone.surname == page.data["surname"]
        assert zone.given_names == page.data["given_names"]
        assert zone.date_of_birth == date.fromisoformat(page.data["date_of_birth"]).strftime(
            "%y%m%d"
        )


def test_the_invoice_keeps_its_fields() -> None:
    assert generated_invoice(0).transcribed == invoice_page().transcribed
