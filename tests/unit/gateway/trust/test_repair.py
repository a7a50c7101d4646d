"""The repair pass's decisions, with readings made up in the test (no engine needed): at
most one extra reading, at the repair crop count, with the note; the better reading wins."""

from __future__ import annotations

import math
from typing import Any

import pytest

import schemas
from gateway.errors import GatewayError
from gateway.trust.repair import Reading, TrustOptions, read_judged

pytestmark = pytest.mark.anyio

INVOICE = schemas.get("invoice")
RIGHT = INVOICE.example
WRONG = RIGHT.model_copy(update={"total": 240.0})


def reading(data: Any, crops: int, sure: float = 0.9) -> Reading:
    content = data.model_dump_json()
    # one token per character, each as sure as ``sure``: every leaf then scores exactly that
    tokens = [{"token": c, "logprob": math.log(sure)} for c in content]
    usage = {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    return Reading(data, content, {"content": tokens}, usage, "stop", "id", "m", crops)


class Engine:
    """Answers each ask from a list and records what it was asked."""

    def __init__(self, *answers: Reading | GatewayError) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[int, str | None]] = []

    async def __call__(self, crops: int, note: str | None) -> Reading:
        self.asked.append((crops, note))
        answer = self.answers.pop(0)
        if isinstance(answer, GatewayError):
            raise answer
        return Reading(**{**answer.__dict__, "num_crops": crops})


def options(repair: bool = True, confidence: bool = True) -> TrustOptions:
    return TrustOptions(confidence=confidence, threshold=0.5, repair=repair, repair_crops=16)


async def test_without_repair_a_failed_check_is_reported_not_retried() -> None:
    engine = Engine(reading(WRONG, 4))
    got, verdict, repair, usage = await read_judged(engine, INVOICE, 4, options(repair=False))
    assert engine.asked == [(4, None)] and repair is None
    assert verdict.review and got.data == WRONG and usage["total_tokens"] == 150
    assert verdict.confidence is not None and set(verdict.confidence.values()) == {0.9}


async def test_a_passing_first_reading_is_not_repaired() -> None:
    engine = Engine(reading(RIGHT, 4))
    _, verdict, repair, _ = await read_judged(engine, INVOICE, 4, options())
    assert engine.asked == [(4, None)] and repair is None and not verdict.review


async def test_wrong_then_right_returns_the_repair_with_both_checks() -> None:
    engine = Engine(reading(WRONG, 4), reading(RIGHT, 16))
    got, verdict, repair, usage = await read_judged(engine, INVOICE, 4, options())
    assert [crops for crops, _ in engine.asked] == [4, 16]
    note = engine.asked[1][1]
    assert note is not None and "the total reads 240.0" in note
    assert got.data == RIGHT and not verdict.review
    assert repair is not None and repair.chosen == 1
    assert [a.num_crops for a in repair.attempts] == [4, 16]
    assert [a.review for a in repair.attempts] == [True, False]
    assert "fail" in {c.status for c in repair.attempts[0].checks}
    assert usage == {"prompt_tokens": 200, "completion_tokens": 100, "total_tokens": 300}


async def test_wrong_twice_keeps_the_surer_reading_and_stops() -> None:
    engine = Engine(reading(WRONG, 4, sure=0.6), reading(WRONG, 16, sure=0.8), reading(RIGHT, 16))
    got, verdict, repair, _ = await read_judged(engine, INVOICE, 4, options())
    assert len(engine.asked) == 2  # never a third reading
    assert repair is not None and repair.chosen == 1 and verdict.review
    assert got.num_crops == 16


async def test_a_failed_repair_reading_leaves_the_first_standing() -> None:
    error = GatewayError(
        422, "cut off", code="output_truncated", details={"usage": {"total_tokens": 70}}
    )
    engine = Engine(reading(WRONG, 4), error)
    got, verdict, repair, usage = await read_judged(engine, INVOICE, 4, options())
    assert got.data == WRONG and verdict.review and len(engine.asked) == 2
    assert repair is not None and repair.chosen == 0
    assert repair.attempts[1].error is not None
    assert repair.attempts[1].error["code"] == "output_truncated"
    assert usage["total_tokens"] == 220


async def test_confidence_off_leaves_it_null_and_out_of_review() -> None:
    engine = Engine(reading(RIGHT, 4, sure=0.1))
    _, verdict, _, _ = await read_judged(engine, INVOICE, 4, options(confidence=False))
    assert verdict.confidence is None and not verdict.review
