"""`review`, the repair note and the choice between two readings."""

from __future__ import annotations

import math

import pytest

import schemas
from gateway.trust.verdict import Verdict, assess, better, confidence_of, repair_note
from schemas.checks import failed, passed, skipped

INVOICE = schemas.get("invoice")
WRONG_TOTAL = INVOICE.example.model_copy(update={"total": 240.0})


def test_clean_answer_with_sure_fields_needs_no_review() -> None:
    v = assess(INVOICE, INVOICE.example, confidence={"/total": 0.9}, threshold=0.5)
    assert not v.review and {c.status for c in v.checks} == {"pass"}


def test_a_failed_check_asks_for_review() -> None:
    v = assess(INVOICE, WRONG_TOTAL, confidence={"/total": 0.99}, threshold=0.5)
    assert v.review
    assert [c.name for c in v.checks if not c.ok] == ["amounts.total", "amounts.amount_due"]


@pytest.mark.parametrize(("value", "review"), [(0.49, True), (0.5, False), (1.0, False)])
def test_confidence_under_the_threshold_asks_for_review(value: float, review: bool) -> None:
    v = assess(INVOICE, INVOICE.example, confidence={"/a": 1.0, "/b": value}, threshold=0.5)
    assert v.review is review


def test_unmappable_confidence_asks_for_review_only_when_it_was_asked_for() -> None:
    assert assess(INVOICE, INVOICE.example, confidence=None, threshold=0.5).review
    off = assess(
        INVOICE, INVOICE.example, confidence=None, threshold=0.5, confidence_expected=False
    )
    assert not off.review and off.confidence is None


def test_an_answer_where_nothing_was_read_asks_for_review() -> None:
    """Every field null and read with high confidence: nothing to act on."""
    empty = INVOICE.model.model_validate({"line_items": []})
    v = assess(INVOICE, empty, confidence={"/line_items": 0.9}, threshold=0.5)
    assert "pass" not in {c.status for c in v.checks} and v.review
    missing = [r.subject for r in v.review_reasons if r.kind == "missing_field"]
    assert missing == ["/invoice_number", "/invoice_date", "/total"]
    skipped = {r.subject for r in v.review_reasons if r.kind == "check_skipped"}
    assert "amounts.total" in skipped


def test_a_check_skipped_over_a_field_the_kind_can_do_without_does_not_ask_for_review() -> None:
    """A receipt-like invoice printing no subtotal: its subtotal check is skipped, and that
    alone is no reason for a person's look."""
    data = INVOICE.example.model_copy(update={"subtotal": None})
    v = assess(INVOICE, data, confidence={"/total": 0.9}, threshold=0.5)
    statuses = {c.name: c.status for c in v.checks}
    assert statuses["amounts.subtotal"] == "skipped"
    assert not v.review and v.review_reasons == []


def test_every_reason_is_listed() -> None:
    v = assess(INVOICE, WRONG_TOTAL, confidence={"/total": 0.2, "/tax": 0.9}, threshold=0.5)
    kinds = [(r.kind, r.subject) for r in v.review_reasons]
    assert ("check_failed", "amounts.total") in kinds and ("low_confidence", "/total") in kinds
    assert ("low_confidence", "/tax") not in kinds


def test_confidence_of_reads_a_choice_and_survives_garbage() -> None:
    tokens = [
        {"token": '{"a":', "logprob": 0.0},
        {"token": "1", "logprob": math.log(0.5)},
        {"token": "}", "logprob": 0.0},
    ]
    assert confidence_of('{"a":1}', {"content": tokens}) == {"/a": 0.5}
    assert confidence_of('{"a":2}', {"content": tokens}) is None
    assert confidence_of('{"a":1}', None) is None
    assert confidence_of('{"a":1}', {"content": [{"token": 5}]}) is None


def test_repair_note_quotes_the_failed_checks_only_and_is_bounded() -> None:
    checks = [
        passed("a", ["/a"], "fine"),
        failed("b", ["/b"], "the total is off; read it again"),
        skipped("c", ["/c"], "missing"),
    ]
    note = repair_note(checks)
    assert "the total is off; read it again" in note and "fine" not in note
    long = repair_note([failed(str(i), ["/x"], "x" * 100) for i in range(20)])
    assert len(long) == 600 and long.endswith("…")


def verdict(fails: int, lowest: float) -> Verdict:
    checks = [failed(f"f{i}", ["/x"], "no") for i in range(fails)] + [passed("p", ["/y"], "ok")]
    return Verdict(confidence={"/x": lowest, "/y": 1.0}, checks=checks, review=True)


@pytest.mark.parametrize(
    ("first", "second", "pick"),
    [
        (verdict(1, 0.9), verdict(0, 0.1), 1),  # passing checks beat confidence
        (verdict(0, 0.2), verdict(1, 0.9), 0),
        (verdict(2, 0.5), verdict(2, 0.6), 1),  # same failures: the surer reading
        (verdict(1, 0.5), verdict(1, 0.5), 0),  # a tie keeps the reading asked for
    ],
)
def test_better_of_two(first: Verdict, second: Verdict, pick: int) -> None:
    assert better(first, second) == pick
