"""Where every benchmark's results go: ``<out>/<name>.json`` for machines, ``.md`` for people.

Both are written side by side from one run, so the Markdown never disagrees with the data.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

__all__ = ["run_meta", "write_report"]


def run_meta() -> dict[str, Any]:
    """When and where a run was taken, load included: a figure taken under load is not a
    result, so every report says what the machine was doing when it started."""
    return {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def write_report(out: Path, name: str, data: Any, markdown: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown)
    print(markdown)
