"""The ``pages`` selection: syntax refused at once, ranges checked against the page count."""

from __future__ import annotations

import pytest

from gateway.documents import DocumentError, PageSelection


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [
        (None, 3, [1, 2, 3]),
        ("  ", 2, [1, 2]),
        ("1-3,5", 10, [1, 2, 3, 5]),
        ("5, 1 - 3", 10, [1, 2, 3, 5]),
        ("2-4,3-5", 10, [2, 3, 4, 5]),
        ("8-", 10, [8, 9, 10]),
        ("4", 4, [4]),
        ("1-1", 1, [1]),
    ],
)
def test_selection_picks_pages_in_document_order(
    text: str | None, count: int, expected: list[int]
) -> None:
    assert PageSelection.parse(text).resolve(count) == expected


@pytest.mark.parametrize("text", ["0", "3-1", "a", "1-2-3", "1,,2", "-3", "1;2", "x" * 300])
def test_bad_syntax_is_a_400_naming_pages(text: str) -> None:
    with pytest.raises(DocumentError) as caught:
        PageSelection.parse(text)
    assert (caught.value.status, caught.value.param) == (400, "pages")
    assert caught.value.code == "document_bad_page_selection"
    assert "1-3,5" in caught.value.message


@pytest.mark.parametrize(("text", "shown"), [("4", "4"), ("2-9", "2-9"), ("7-", "7-")])
def test_a_page_past_the_end_is_a_400_with_the_page_count(text: str, shown: str) -> None:
    with pytest.raises(DocumentError) as caught:
        PageSelection.parse(text, param="pages").resolve(3)
    assert (caught.value.status, caught.value.code) == (400, "document_page_out_of_range")
    assert caught.value.param == "pages"
    assert f"selects {shown} but the document has 3 page(s)" in caught.value.message
