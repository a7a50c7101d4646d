"""The four kinds of traffic, as functions over a Locust ``FastHttpSession``.

Closed-loop users (``users.py``) and the open-loop scheduler (``openloop.py``) call the same
functions, so a kind means the same request in every load shape. Each call records one
`Sample` per HTTP request and sets Locust's own response time to the time the user waited:
to the end of the stream for streaming, and from the *intended* start in open loop.

Bodies go out as bytes (geventhttpclient sends them as they are; Locust's type hint says
``str`` only, hence the two ``type: ignore``). Locust is only imported for type checking:
these functions run on any object with the ``FastHttpSession.post`` signature, which keeps
them testable without gevent.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loadtest.context import RunContext, Start
from loadtest.payloads import QUESTIONS, chat_body, extract_body
from loadtest.samples import Sample
from loadtest.sse import StreamTimer

if TYPE_CHECKING:
    from locust.contrib.fasthttp import FastHttpSession, ResponseContextManager

__all__ = [
    "RUNNERS",
    "classify_http_error",
    "classify_exception",
    "run_chat",
    "run_extract",
    "run_repeat",
    "run_stream",
]


def classify_http_error(status: int, text: str | None) -> tuple[str, str]:
    """``("http_429/rate_limited", message)`` from an OpenAI-style error body."""
    try:
        err = json.loads(text or "")["error"]
        code = err.get("code") or err.get("type")
        message = str(err.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        code, message = None, (text or "")[:200]
    return (f"http_{status}/{code}" if code else f"http_{status}"), message[:200]


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """``timeout`` or ``connection/<ExceptionName>`` for a transport failure."""
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or "timeout" in name.lower():
        return "timeout", str(exc)[:200]
    return f"connection/{name}", str(exc)[:200]


def _finish(resp: ResponseContextManager, ctx: RunContext, sample: Sample) -> None:
    """Report to Locust (time from the intended start) and keep the sample."""
    resp.request_meta["response_time"] = (sample.e2e_s or 0.0) * 1000
    resp.request_meta["start_time"] = sample.start
    if sample.ok:
        resp.success()
    else:
        resp.failure(f"{sample.error}: {sample.message or ''}"[:160])
    ctx.recorder.record(sample)


def _check_status(resp: Any, sample: Sample) -> bool:
    """Fill the sample's error for a transport failure or a non-200; True if all is well."""
    sample.status = resp.status_code
    if resp.status_code == 0:
        error = getattr(resp, "error", None) or ConnectionError("no response")
        sample.error, sample.message = classify_exception(error)
        return False
    if resp.status_code != 200:
        sample.error, sample.message = classify_http_error(resp.status_code, resp.text)
        return False
    return True


def _post_json(
    client: FastHttpSession,
    ctx: RunContext,
    path: str,
    body: bytes,
    kind: str,
    name: str,
    start: Start,
    required: str,
) -> dict[str, Any] | None:
    """POST a non-streaming request; the JSON answer if it is a 200 with ``required``."""
    sample = Sample(kind, name, start.wall, ok=False, users=ctx.users(), lag_s=start.lag_s)
    payload: dict[str, Any] | None = None
    with client.post(
        path,
        data=body,  # type: ignore[arg-type]
        headers=ctx.headers,
        name=name,
        catch_response=True,
    ) as resp:
        sample.e2e_s = time.perf_counter() - start.perf
        if _check_status(resp, sample):
            try:
                payload = json.loads(resp.content or b"")
            except ValueError:
                payload = None
            if not isinstance(payload, dict) or required not in payload:
                sample.error, sample.message = "bad_response", f"no {required!r} in the answer"
                payload = None
            else:
                usage = payload.get("usage") or {}
                sample.prompt_tokens = usage.get("prompt_tokens")
                sample.completion_tokens = usage.get("completion_tokens")
                sample.ok = True
        _finish(resp, ctx, sample)
    return payload


def _stream(
    client: FastHttpSession, ctx: RunContext, body: bytes, kind: str, name: str, start: Start
) -> Sample:
    """POST a streaming chat and time its events as they arrive."""
    sample = Sample(kind, name, start.wall, ok=False, users=ctx.users(), lag_s=start.lag_s)
    with client.post(
        "/v1/chat/completions",
        data=body,  # type: ignore[arg-type]
        headers=ctx.stream_headers,
        name=name,
        stream=True,
        catch_response=True,
    ) as resp:
        if not _check_status(resp, sample):
            sample.e2e_s = time.perf_counter() - start.perf
            _finish(resp, ctx, sample)
            return sample
        timer = StreamTimer(start.perf)
        raw = resp._response  # geventhttpclient: readline returns each line as it arrives
        try:
            while raw is not None:
                line = raw.readline(b"\n")
                if not line:
                    break
                timer.feed(line, time.perf_counter())
        except Exception as exc:  # noqa: BLE001 - any transport failure is a failed request
            timer.fail(*classify_exception(exc))
        result = timer.result(end=time.perf_counter())
        sample.e2e_s, sample.ttft_s, sample.itl_s = result.e2e_s, result.ttft_s, result.itl_s
        sample.prompt_tokens = result.prompt_tokens
        sample.completion_tokens = result.completion_tokens
        sample.cached_tokens = result.cached_tokens
        sample.error, sample.message = result.error_type, result.error_message
        sample.ok = result.error_type is None
        _finish(resp, ctx, sample)
    return sample


def run_chat(
    client: FastHttpSession, ctx: RunContext, rng: random.Random, start: Start | None = None
) -> bool:
    """Chat with one image, non-streaming: the whole answer at once. True if it succeeded."""
    body = chat_body(ctx.cfg, ctx.image(rng), rng.choice(QUESTIONS), stream=False)
    return (
        _post_json(
            client,
            ctx,
            "/v1/chat/completions",
            body,
            "chat",
            "chat",
            start or Start.now(),
            "choices",
        )
        is not None
    )


def run_stream(
    client: FastHttpSession, ctx: RunContext, rng: random.Random, start: Start | None = None
) -> bool:
    """Streaming chat with one image: TTFT, ITL and tokens/s come from this one."""
    body = chat_body(ctx.cfg, ctx.image(rng), rng.choice(QUESTIONS), stream=True)
    return _stream(client, ctx, body, "stream", "chat-stream", start or Start.now()).ok


def run_extract(
    client: FastHttpSession, ctx: RunContext, rng: random.Random, start: Start | None = None
) -> bool:
    """Structured extraction with a schema drawn from the configured list."""
    schema = rng.choice(ctx.cfg.schemas)
    body = extract_body(ctx.cfg, ctx.image(rng, schema))
    return (
        _post_json(
            client,
            ctx,
            f"/v1/extract/{schema}",
            body,
            "extract",
            f"extract/{schema}",
            start or Start.now(),
            "data",
        )
        is not None
    )


def run_repeat(
    client: FastHttpSession, ctx: RunContext, rng: random.Random, start: Start | None = None
) -> bool:
    """Several streamed questions on one image, one after the other.

    The first (``repeat/first``) pays for the image; the others (``repeat/again``) should find
    its KV blocks in vLLM's prefix cache, which shows as a lower TTFT and in the hit rate.
    """
    image = ctx.image(rng)
    questions = rng.sample(QUESTIONS, k=min(len(QUESTIONS), max(1, ctx.cfg.repeat_prompts)))
    for i, question in enumerate(questions):
        body = chat_body(ctx.cfg, image, question, stream=True)
        first = i == 0
        when = (start or Start.now()) if first else Start.now()
        sample = _stream(
            client, ctx, body, "repeat", "repeat/first" if first else "repeat/again", when
        )
        if not sample.ok:
            return False  # the conversation broke; the next one starts on a fresh image
    return True


RUNNERS: dict[str, Callable[..., bool]] = {
    "chat": run_chat,
    "stream": run_stream,
    "extract": run_extract,
    "repeat": run_repeat,
}
"""Kind → function; the open-loop scheduler draws from this by the mix's weights."""
