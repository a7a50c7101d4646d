"""`table`: a table image as header cells and rows of cell strings, plus Markdown rendering.

Cells stay strings: tables mix numbers, units, dates and footnote marks, and the caller knows
better than a schema which column is numeric. `Table.to_markdown` gives the GitHub-flavoured
Markdown most consumers (chat UIs, LLM prompts, docs) want.

    >>> Table(title=None, columns=["a", "b"], rows=[["1", "x|y"]]).to_markdown()
    '| a | b |\\n| --- | --- |\\n| 1 | x\\\\|y |'
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from schemas.checks import CheckResult, failed, passed, skipped
from schemas.fields import ShortText, Text
from schemas.merge import FieldMerge
from schemas.spec import SchemaSpec

__all__ = ["SPEC", "Table", "escape_cell", "row_widths"]

_NEWLINES = re.compile(r"\r\n|\r|\n")


class Table(BaseModel):
    """A table read from an image: optional title, header cells and body rows."""

    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(
        default=None, description="Caption or title printed above or below the table, if any."
    )
    columns: list[ShortText] = Field(
        description="Header cells left to right; an empty string for a blank header cell."
    )
    rows: list[list[ShortText]] = Field(
        description="Body rows top to bottom, each a list of cell texts left to right; an "
        "empty string for an empty cell."
    )

    def to_markdown(self) -> str:
        """Render as a GitHub-flavoured Markdown table.

        Short rows are padded with empty cells so every row has the widest row's width
        (GFM would otherwise drop or misalign cells). The title, if any, comes first as a
        paragraph. A table with no cells at all renders as the title alone, or ``""``.
        """
        width = max([len(self.columns), *(len(row) for row in self.rows)])
        lines = [escape_cell(self.title), ""] if self.title else []
        if width == 0:
            return "\n".join(lines).strip()
        lines.append(_row(self.columns, width))
        lines.append("| " + " | ".join(["---"] * width) + " |")
        lines.extend(_row(row, width) for row in self.rows)
        return "\n".join(lines)


def escape_cell(text: str) -> str:
    """Make ``text`` safe inside one GFM table cell.

    Backslashes are doubled first, so a literal ``\\|`` in the source survives; then ``|``
    becomes ``\\|`` (GFM's cell-splitting escape) and line breaks become ``<br>``, since a raw
    newline would end the row.
    """
    escaped = text.replace("\\", "\\\\").replace("|", "\\|")
    return _NEWLINES.sub("<br>", escaped).strip()


def _row(cells: list[str], width: int) -> str:
    """One Markdown table row, padded to ``width`` cells."""
    padded = [escape_cell(c) for c in cells] + [""] * (width - len(cells))
    return "| " + " | ".join(padded) + " |"


def row_widths(table: Table) -> CheckResult:
    """Every row has one cell per column: a short or long row means a cell was lost or split."""
    name = "table.row_widths"
    if not table.columns:
        return skipped(name, ["/columns"], "no header cells were read")
    width = len(table.columns)
    wrong = [i for i, row in enumerate(table.rows) if len(row) != width]
    if not wrong:
        return passed(name, ["/columns", "/rows"], f"{len(table.rows)} row(s) of {width} cells")
    listed = ", ".join(f"row {i + 1} has {len(table.rows[i])}" for i in wrong)
    return failed(
        name,
        ["/columns", *(f"/rows/{i}" for i in wrong)],
        f"{width} columns, but {listed}; read those rows again, one string per cell",
    )


SPEC: SchemaSpec[Table] = SchemaSpec(
    name="table",
    description="Table: title, header cells and rows of cell text; renders as Markdown.",
    model=Table,
    instructions=(
        "The image shows a table: header cells in columns, each body row in rows, one "
        'string per cell, left to right. Use "" for an empty cell; repeat a merged cell '
        "in each column it spans."
    ),
    num_crops=16,
    max_tokens=1024,
    checks=(row_widths,),
    required=("/rows",),
    transcribed=("/title", "/columns/*", "/rows/*/*"),
    # A table continued over pages: rows under the first page's header; a header the
    # printer repeats at the top of a later page is not a row.
    merge=FieldMerge(concatenate=("rows",), repeated_header="columns"),
    example=Table(
        title="Quarterly revenue (EUR m)",
        columns=["Region", "Q1", "Q2"],
        rows=[["North", "12.5", "13.1"], ["South", "9.8", "10.4"]],
    ),
)
"""The registered spec; the example is a small two-quarter table."""
