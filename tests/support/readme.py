"""The README as data for the tests that keep it true: its code blocks' commands and the
response shapes it documents.

    command("/v1/verify/passport")        # the one README command holding that text
    documented("A success is")            # ['id', 'object', 'schema', ...]
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["README", "bash_lines", "command", "documented", "top_level_names"]

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def bash_lines() -> list[str]:
    """Every line of the README's code blocks, continuation lines joined."""
    blocks: list[list[str]] = []
    inside = False
    for line in README.splitlines():
        if line.startswith("```"):
            inside = not inside
            if inside:
                blocks.append([])
        elif inside:
            blocks[-1].append(line)
    text = "\n".join("\n".join(block) for block in blocks).replace("\\\n", " ")
    return [line.strip() for line in text.splitlines()]


def command(*fragments: str) -> str:
    """The first README command that holds every fragment (a drifted README fails here)."""
    found = [line for line in bash_lines() if all(f in line for f in fragments)]
    assert found, f"the README has no command with {fragments}"
    return found[0]


def top_level_names(shape: str) -> list[str]:
    """The quoted names at the top level of a documented shape such as
    ``{"id", "object": "extraction", "data": {…}, "pages": [{"page"} | {"error"}]}``: what
    sits inside nested braces or brackets, and the values after a colon, are left out.

    >>> top_level_names('{"id", "object": "x", "data": {"a"}, "pages": [{"b"}], "usage"}')
    ['id', 'object', 'data', 'pages', 'usage']
    """
    depth, flat = 0, []
    for char in shape.strip()[1:-1]:
        depth += char in "{["
        if depth == 0:
            flat.append(char)
        depth -= char in "}]"
    text = re.sub(r':\s*"[^"]*"', ":", "".join(flat))  # drop literal values
    return re.findall(r'"(\w+)"', text)


def documented(after: str) -> list[str]:
    """The names of the first backticked ``{…}`` shape that follows ``after`` in the README."""
    start = README.index(after) + len(after)
    match = re.search(r"`(\{.*?\})`", README[start:], re.DOTALL)
    assert match, f"no documented shape after {after!r}"
    return top_level_names(" ".join(match.group(1).split()))
