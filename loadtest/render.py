"""A report as a list of blocks, rendered to Markdown and to standalone HTML.

The report is written once, as data (`Heading`, `Para`, `Bullets`, `Table`, `Figure`), and
rendered twice, so the two formats cannot drift apart and no Markdown library is needed.

    blocks = [Heading(1, "Load test"), Table(["metric", "value"], [["req/s", "3.2"]])]
    to_markdown(blocks);  to_html(blocks, title="Load test")
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

__all__ = ["Block", "Bullets", "Figure", "Heading", "Para", "Table", "to_html", "to_markdown"]


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str
    warn: bool = False


@dataclass
class Bullets:
    items: list[str]
    warn: bool = False


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Figure:
    path: str
    """Relative to the report's folder."""
    caption: str


Block = Heading | Para | Bullets | Table | Figure
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(("> **Warning:** " if b.warn else "") + b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(("- ⚠ " if b.warn else "- ") + item for item in b.items))
        elif isinstance(b, Table):
            lines = [
                "| " + " | ".join(_md_cell(h) for h in b.headers) + " |",
                "|" + "|".join("---" for _ in b.headers) + "|",
            ]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif isinstance(b, Figure):
            out.append(f"![{b.caption}]({b.path})\n\n*{b.caption}*")
    return "\n\n".join(out) + "\n"


_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #1b1b1b; }
table { border-collapse: collapse; margin: .5em 0 1.2em; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
.warn { background: #fff4e5; border-left: 4px solid #f0a020; padding: .4em .8em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
code { background: #f4f4f4; padding: 0 .2em; }
"""


def _inline(text: str) -> str:
    """Escape, then turn `code` and **bold** spans into tags (the only inline markup used)."""
    parts = html.escape(text).split("`")
    text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    return _BOLD.sub(r"<strong>\1</strong>", text)


def to_html(blocks: list[Block], title: str) -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            cls = ' class="warn"' if b.warn else ""
            body.append(f"<p{cls}>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            cls = ' class="warn"' if b.warn else ""
            items = "".join(f"<li>{_inline(i)}</li>" for i in b.items)
            body.append(f"<ul{cls}>{items}</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{_inline(h)}</th>" for h in b.headers)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in b.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Figure):
            src = html.escape(b.path, quote=True)
            body.append(
                f'<figure><img src="{src}" alt="{html.escape(b.caption, quote=True)}">'
                f"<figcaption>{_inline(b.caption)}</figcaption></figure>"
            )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
