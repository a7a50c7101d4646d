"""Validating a batch's input file: OpenAI's JSONL lines, checked before any line runs.

Each line is ``{"custom_id", "method": "POST", "url", "body"}``; the file fails validation
(the batch ends ``failed`` with ``errors.data[{code, message, param, line}]``) when a line is
not a JSON object, lacks a ``custom_id`` or repeats one, has a ``method`` other than POST, a
``url`` that is no batch endpoint or not the batch's, a ``body`` that is not an object or is
larger than ``GATEWAY_MAX_BODY_BYTES``; or the file is empty or has more than
``GATEWAY_BATCH_MAX_LINES`` lines. What a body asks for is checked when the line runs, by its
route's own checks (a refusal goes to the error file; the other lines complete).

    count, errors = await read_lines(blobs.read(file_id), endpoint, settings, store_them)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

from ..settings import Settings
from .endpoints import is_endpoint
from .store import InputLine

__all__ = ["MAX_ERRORS", "SINK_LINES", "read_lines", "split_lines"]

MAX_ERRORS = 100
"""Errors reported for one file; the first ones are enough to fix it."""
SINK_LINES = 500
"""Valid lines stored per write while a file is read."""


async def split_lines(chunks: AsyncIterable[bytes], limit: int) -> AsyncIterator[bytes | None]:
    """The file's lines without their newline; None for a line longer than ``limit`` bytes
    (its bytes are skipped, never held)."""
    pending = b""
    skipping = False
    async for chunk in chunks:
        pending += chunk
        while True:
            cut = pending.find(b"\n")
            if cut < 0:
                break
            line, pending = pending[:cut], pending[cut + 1 :]
            if skipping:
                skipping = False
                yield None
            else:
                yield line if len(line) <= limit else None
        if len(pending) > limit:
            pending, skipping = b"", True
    if skipping:
        yield None
    elif pending:
        yield pending if len(pending) <= limit else None


def _error(code: str, message: str, line: int | None, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def _check(
    raw: bytes, number: int, endpoint: str, seen: set[str], pin: int | None = None
) -> tuple[InputLine | None, dict[str, Any] | None]:
    try:
        item = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, _error("invalid_json_line", "this line is not valid JSON", number)
    if not isinstance(item, dict):
        return None, _error("invalid_json_line", "this line is not a JSON object", number)
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return None, _error(
            "missing_custom_id", "custom_id must be a non-empty string", number, "custom_id"
        )
    if custom_id in seen:
        return None, _error(
            "duplicate_custom_id",
            f"custom_id {custom_id!r} appears on an earlier line; each must be unique",
            number,
            "custom_id",
        )
    seen.add(custom_id)
    if item.get("method") != "POST":
        return None, _error("invalid_method", "method must be POST", number, "method")
    url = item.get("url")
    if not isinstance(url, str) or not is_endpoint(url):
        return None, _error(
            "invalid_url",
            "url must be /v1/chat/completions, /v1/responses or /v1/extract/{schema}",
            number,
            "url",
        )
    if url != endpoint:
        return None, _error(
            "mismatched_url",
            f"url {url!r} is not the batch's endpoint {endpoint!r}",
            number,
            "url",
        )
    body = item.get("body")
    if not isinstance(body, dict):
        return None, _error("invalid_body", "body must be a JSON object", number, "body")
    if pin is not None:
        body.setdefault("schema_version", pin)  # the version the batch was created with
    return InputLine(number, custom_id, json.dumps(body, ensure_ascii=False)), None


async def read_lines(
    chunks: AsyncIterable[bytes],
    endpoint: str,
    settings: Settings,
    sink: Callable[[list[InputLine]], Awaitable[None]],
    pin: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Check every line; hand the valid ones to ``sink`` in groups of ``SINK_LINES`` while
    no error has been seen (so a file is never held whole). An extraction line that names
    no ``schema_version`` gets ``pin`` (the batch's). The number of lines handed on, and the
    errors that fail the file (at most ``MAX_ERRORS``)."""
    pending: list[InputLine] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    number = requests = sent = 0
    limit = settings.max_body_bytes
    async for raw in split_lines(chunks, limit):
        number += 1
        if raw is not None and not raw.strip():
            continue  # a blank line (a trailing newline, say) is no request
        requests += 1
        if requests > settings.batch_max_lines:
            errors.append(
                _error(
                    "too_many_lines",
                    f"the file has more than {settings.batch_max_lines} lines"
                    " (GATEWAY_BATCH_MAX_LINES)",
                    number,
                )
            )
            break
        error: dict[str, Any] | None
        if raw is None:
            item = None
            error = _error(
                "line_too_large",
                f"this line is larger than {limit} bytes (GATEWAY_MAX_BODY_BYTES)",
                number,
            )
        else:
            item, error = _check(raw, number, endpoint, seen, pin)
        if error is not None:
            pending.clear()
            if len(errors) < MAX_ERRORS:
                errors.append(error)
        elif item is not None and not errors:
            pending.append(item)
            if len(pending) >= SINK_LINES:
                await sink(pending)
                sent, pending = sent + len(pending), []
    if pending and not errors:
        await sink(pending)
        sent += len(pending)
    if not sent and not errors:
        errors.append(_error("empty_file", "the input file has no request lines", None))
    return sent, errors
