"""Where every benchmark's results go: ``<out>/<name>.json`` for machines, ``.md`` for people.

Both are written side by side from one run, so the Markdown never disagrees with the data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["write_report"]


def write_report(out: Path, name: str, data: Any, markdown: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown)
    print(markdown)
