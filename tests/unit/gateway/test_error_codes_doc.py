"""docs/gateway.md lists every ErrorCode, and nothing else: a client author reads the table,
so a code added in code but not in the doc (or the reverse) fails here."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.errors import ErrorCode

DOC = Path(__file__).resolve().parents[3] / "docs" / "gateway.md"


def test_every_error_code_is_documented_once() -> None:
    text = DOC.read_text()
    table = text[text.index("<!-- error-codes:start -->") : text.index("<!-- error-codes:end -->")]
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", table, flags=re.M)
    assert sorted(documented) == sorted(code.value for code in ErrorCode)
    assert len(documented) == len(set(documented))
