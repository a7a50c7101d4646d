"""A small reader for the Prometheus text format (what vLLM's ``/metrics`` serves).

Only what the report needs: sample lines ``name{label="v",…} value [timestamp]``, comments
skipped, label values with escaped quotes and commas handled. No dependency on
``prometheus_client``'s parser, whose API has moved between versions.

    parse_metrics('vllm:num_preemptions_total{model_name="m"} 3.0\\n')
    # [MetricSample(name='vllm:num_preemptions_total', labels={'model_name': 'm'}, value=3.0)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["MetricSample", "parse_metrics", "total"]


@dataclass(frozen=True)
class MetricSample:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    value: float = 0.0


def _parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " ,":
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq].strip()
        i = eq + 1
        if i >= n or text[i] != '"':
            raise ValueError(f"label {key!r} has no quoted value")
        i += 1
        value = []
        while i < n and text[i] != '"':
            if text[i] == "\\" and i + 1 < n:
                i += 1
                value.append({"n": "\n"}.get(text[i], text[i]))
            else:
                value.append(text[i])
            i += 1
        labels[key] = "".join(value)
        i += 1
    return labels


def _split_sample(line: str) -> tuple[str, str, str]:
    """(name, label text, rest) for one sample line; label braces may hold quoted '}'."""
    brace = line.find("{")
    space = line.find(" ")
    if brace < 0 or (0 <= space < brace):
        name, _, rest = line.partition(" ")
        return name, "", rest
    i, quoted = brace + 1, False
    while i < len(line):
        ch = line[i]
        if ch == "\\" and quoted:
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "}" and not quoted:
            break
        i += 1
    return line[:brace], line[brace + 1 : i], line[i + 1 :]


def parse_metrics(text: str) -> list[MetricSample]:
    """Every sample line; malformed lines are skipped rather than failing a whole scrape."""
    out: list[MetricSample] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            name, label_text, rest = _split_sample(line)
            value = float(rest.split()[0])
            labels = _parse_labels(label_text) if label_text else {}
        except (ValueError, IndexError):
            continue
        out.append(MetricSample(name.strip(), labels, value))
    return out


def total(samples: list[MetricSample], name: str, **match: str) -> float | None:
    """Sum of ``name`` over label sets that contain ``match``; None if there is none."""
    values = [
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in match.items())
    ]
    values = [v for v in values if not math.isnan(v)]
    return sum(values) if values else None
