"""Helpers of the Batch API tests: input files, polling, reading result files."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
from openai.types import Batch

__all__ = ["DONE", "chat_line", "jsonl", "results", "sdk", "submit", "wait_for"]

DONE = ("completed", "failed", "expired", "cancelled")


def sdk(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url + "/v1", api_key=key, max_retries=0, timeout=60)


def chat_line(custom_id: str, model: str = "stub", **body: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": "hi"}]
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": messages, **body},
    }


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(line) for line in lines) + "\n").encode()


def submit(client: openai.OpenAI, data: bytes, endpoint: str = "/v1/chat/completions") -> Batch:
    uploaded = client.files.create(file=("input.jsonl", data), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id,
        endpoint=endpoint,  # type: ignore[arg-type]  # the SDK's list lacks /v1/extract/…
        completion_window="24h",
    )


def wait_for(
    client: openai.OpenAI, batch_id: str, timeout: float = 60.0, until: tuple[str, ...] = DONE
) -> Batch:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in until:
            return batch
        assert time.monotonic() < deadline, f"batch still {batch.status}: {batch}"
        time.sleep(0.2)


def results(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    """The lines of an output or error file ([] when the batch has none)."""
    if file_id is None:
        return []
    text = client.files.content(file_id).text
    return [json.loads(line) for line in text.splitlines() if line.strip()]
