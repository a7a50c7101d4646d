"""docs/custom-schemas.md shows the definition the tests register, and the error codes it
lists are the gateway's: the worked example cannot drift from what is tested."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gateway.errors import ErrorCode
from tests.support.bill_of_lading import BILL_OF_LADING

DOC = Path(__file__).resolve().parents[3] / "docs" / "custom-schemas.md"


def test_the_worked_example_is_the_tested_definition() -> None:
    block = re.search(r"```json\n(.*?)\n```", DOC.read_text(), flags=re.S)
    assert block is not None
    assert json.loads(block.group(1)) == BILL_OF_LADING


def test_every_refusal_code_in_the_doc_exists() -> None:
    text = DOC.read_text()
    table = text[text.index("## What registration checks") : text.index("## The check language")]
    codes = set(re.findall(r"\| `([a-z_]+)`(?: \(\d+\))?(?:, `([a-z_]+)`)? \|", table))
    named = {c for pair in codes for c in pair if c}
    assert named and named <= {code.value for code in ErrorCode}
