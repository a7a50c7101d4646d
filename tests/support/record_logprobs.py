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

from gateway.pipeline.prompt import build_request
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

CASES = ("passport", "table", "mixed", "passport_special")
SPECIAL_SEED = 11
SPECIAL_IMAGE = make_image(640, 480, seed=21)
"""``passport_special``: the passport schema on this image at its own num_crops and this
seed made the random model write a special token (``<|placeholder33|>``, token 293) inside a
string; vLLM leaves it out of the content and lists it in ``logprobs``, which confidence
must skip."""


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
    spec = get(case.removesuffix("_special"))
    special = case.endswith("_special")
    raw = build_request(
        spec,
        model="phi-3.5-vision",
        image_data_url=data_url(SPECIAL_IMAGE if special else IMAGE),
        hint=None,
        num_crops=spec.num_crops if special else 1,
        max_tokens=spec.max_tokens,
        temperature=TEMPERATURE,
        seed=SPECIAL_SEED if special else SEED,
    )
    body: dict[str, Any] = json.loads(raw)
    return body


def record(engine: str, out: Path, cases: tuple[str, ...] = CASES) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=engine, timeout=300) as client:
        for case in cases:
            body = _body(case) | LOGPROBS
            answer = client.post("/v1/chat/completions", json=body)
            answer.raise_for_status()
            text = json.dumps(body)
            for image in (IMAGE, SPECIAL_IMAGE):
                size = f"<image {image.width}x{image.height}>"
                text = text.replace(data_url(image), size)
            saved = json.loads(text)
            fixture = {"request": saved, "response": answer.json()}
            text = json.dumps(fixture, ensure_ascii=False, separators=(",", ":"))
            (out / f"{case}.json").write_text(text + "\n")
            choice = answer.json()["choices"][0]
            print(case, choice["finish_reason"], len(choice["logprobs"]["content"]), "tokens")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="http://127.0.0.1:18000")
    parser.add_argument("--out", type=Path, default=Path("tests/unit/gateway/fixtures/logprobs"))
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=CASES)
    args = parser.parse_args()
    record(args.engine, args.out, tuple(args.cases))


if __name__ == "__main__":
    main()
