"""An upstream scripted per image, for pipeline tests that need answers the random model
cannot give (a two-page invoice that adds up) or that count the engine calls in flight.

It stands in for `gateway.upstream.Upstream` (only ``complete_json``, what extraction
uses): the answer is chosen by the request's routing key (the first image's digest), so
each page of a document can get its own answer.

    upstream = ScriptedUpstream({page1.digest: json.dumps(...), page2.digest: ...})
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ScriptedUpstream"]

Answer = str | Callable[[dict[str, Any]], str]
"""The answer's content, or a function of the request body that makes it."""


class ScriptedUpstream:
    """Answers by the first image's digest; counts calls and the most in flight at once."""

    def __init__(self, answers: Mapping[bytes | None, Answer], delay_s: float = 0.0) -> None:
        self.answers = dict(answers)
        self.delay_s = delay_s
        self.calls: Counter[bytes | None] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def complete_json(
        self, body: bytes, record: Any, route: str, affinity: bytes | None = None
    ) -> dict[str, Any]:
        request = json.loads(body)
        self.bodies.append(request)
        self.calls[affinity] += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
            answer = self.answers[affinity]
            content = answer(request) if callable(answer) else answer
        finally:
            self.in_flight -= 1
        return {
            "id": f"chatcmpl-{len(self.bodies)}",
            "model": "phi-3.5-vision",
            "choices": [{"message": {"content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
        }
