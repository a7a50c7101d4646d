"""Record real vLLM chat answers with log-probabilities, as fixtures for the confidence tests.

    python -m tests.support.record_logprobs --engine http://127.0.0.1:18000 \\
        --out tests/unit/gateway/fixtures/logprobs

Each case is one request as the gateway builds it (system prompt, a small image, the schema's
instructions; strict ``json_schema``), plus a hand-made schema with every kind of leaf, sent
with ``logprobs: true, top_logprobs: 5`` and a fixed ``seed`` at temperature 1 (random weights
decoded greedily fill every bound). The engine must run with ``disable_any_whitespace`` in its
server config, as every profile does: vLLM 0.32 refuses it per request. Each file holds the
request (the image replaced by its size) and the engine's whole answer.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import httpx

from gateway.extract.prompt import build_request
from schemas import get
from tests.support.images import data_url, make_image

__all__ = ["CASES", "MIXED_SCHEMA", "record"]

TEMPERATURE, SEED = 1.0, 7
SAMPLING = {"temperature": TEMPERATURE, "seed": SEED}
LOGPROBS = {"logprobs": True, "top_logprobs": 5}
IMAGE = make_image(320, 240, seed=5)

MIXED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "script", "count", "price", "ok", "kind", "note", "items"],
    "properties": {
        "name": {"type": "string", "pattern": '^[^"\\\\\\x00-\\x1f]{1,12}$'},
        "script": {"type": "string", "pattern": "^[一-龥]{2,4}$"},
        "count": {"type": "integer", "minimum": 0, "maximum": 999},
        "price": {"type": "number", "minimum": 0, "maximum": 1000},
        "ok": {"type": "boolean"},
        "kind": {"enum": ["alpha", "beta", "gamma"]},
        "note": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^[a-z]{0,4}$"}]},
        "items": {
            "type": "array",
            "maxItems": 2,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["k", "v"],
                "properties": {
                    "k": {"type": "string", "pattern": "^[a-z]{1,3}$"},
                    "v": {"type": "array", "maxItems": 2, "items": {"type": "boolean"}},
                },
            },
        },
    },
}
"""Strings (free and Chinese), integer, number, boolean, enum, nullable, nested list/object."""

CASES = ("passport", "table", "mixed")


def _body(case: str) -> dict[str, Any]:
    if case == "mixed":
        return {
            "model": "phi-3.5-vision",
            "messages": [{"role": "user", "content": "Describe one product as JSON."}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "mixed", "schema": MIXED_SCHEMA, "strict": True},
            },
            "max_tokens": 200,
        } | SAMPLING
    spec = get(case)
    raw = build_request(
        spec,
        model="phi-3.5-vision",
        image_data_url=data_url(IMAGE),
        hint=None,
        num_crops=1,
        max_tokens=spec.max_tokens,
        temperature=TEMPERATURE,
        seed=SEED,
    )
    body: dict[str, Any] = json.loads(raw)
    return body


def record(engine: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=engine, timeout=300) as client:
        for case in CASES:
            body = _body(case) | LOGPROBS
            answer = client.post("/v1/chat/completions", json=body)
            answer.raise_for_status()
            saved = json.loads(json.dumps(body).replace(data_url(IMAGE), "<image 320x240>"))
            fixture = {"request": saved, "response": answer.json()}
            text = json.dumps(fixture, ensure_ascii=False, separators=(",", ":"))
            (out / f"{case}.json").write_text(text + "\n")
            choice = answer.json()["choices"][0]
            print(case, choice["finish_reason"], len(choice["logprobs"]["content"]), "tokens")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="http://127.0.0.1:18000")
    parser.add_argument("--out", type=Path, default=Path("tests/unit/gateway/fixtures/logprobs"))
    args = parser.parse_args()
    record(args.engine, args.out)


if __name__ == "__main__":
    main()
