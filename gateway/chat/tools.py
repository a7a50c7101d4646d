"""Forced function calls on a model that has no tool-call format.

Phi-3.5-vision cannot choose among tools, and vLLM refuses a named ``tool_choice`` unless the
server runs a tool-call parser, which this model has none of. Yet clients that want typed
output (instructor's default ``Mode.TOOLS``, LangChain's ``with_structured_output(...,
method="function_calling")``) send exactly one tool and force it by name. A forced call *is*
structured output: the arguments are a JSON object that follows the function's ``parameters``
schema. So the gateway turns the request into guided decoding of that schema and answers in the
tool-call shape the client expects:

    tool = force_tool_call(payload, settings)     # None: no tools in the request
    ...forward payload...
    response = tool.respond(await upstream.chat(...))  # message.tool_calls, or argument deltas

``tool_choice: "auto"`` (the default when tools are sent) or ``"required"`` with several tools
would need the model to pick a tool, which it cannot: 400 ``tool_choice_unsupported``, saying
how to force one. ``"none"`` drops the tools, as the model would ignore them anyway.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response, StreamingResponse

from ..caps import bad_value
from ..errors import ErrorCode, GatewayError
from ..schema_guard import check_schema
from ..settings import Settings

__all__ = ["ForcedTool", "force_tool_call"]

_TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls")
_EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}


def _cannot_choose(detail: str, names: list[str]) -> GatewayError:
    example = names[0] if names else "NAME"
    return GatewayError(
        400,
        f"tool_choice: {detail}; this model cannot choose among tools. Force one function with "
        f'"tool_choice": {{"type": "function", "function": {{"name": "{example}"}}}} '
        '(or send exactly one tool with "tool_choice": "required"); the answer is that '
        "function's call, its arguments guided by its parameters schema",
        param="tool_choice",
        code=ErrorCode.TOOL_CHOICE_UNSUPPORTED,
    )


def _function_names(tools: Any) -> list[tuple[str, dict[str, Any]]]:
    """(name, function object) for each tool, after checking the shape the gateway needs."""
    if not isinstance(tools, list) or not tools:
        raise bad_value("tools", "must be a non-empty list of function tools")
    found: list[tuple[str, dict[str, Any]]] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise bad_value(f"{where}.type", "only function tools are supported")
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise bad_value(f"{where}.function", "must be an object with a string 'name'")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise bad_value(f"{where}.function.parameters", "must be a JSON Schema object")
        found.append((function["name"], function))
    return found


def _chosen_index(choice: Any, names: list[str]) -> int:
    if choice is None or choice == "auto":
        detail = 'tool_choice is "auto"' if choice else "tools were sent without a tool_choice"
        raise _cannot_choose(detail, names)
    if choice == "required":
        if len(names) != 1:
            raise _cannot_choose(f'tool_choice is "required" with {len(names)} tools', names)
        return 0
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str):
            raise bad_value("tool_choice.function.name", "must be a string")
        if name not in names:
            raise bad_value(
                "tool_choice.function.name",
                f"names no tool in this request ({name!r}; tools: {', '.join(names)})",
            )
        return names.index(name)
    raise bad_value(
        "tool_choice",
        'must be "none", "required" (with one tool) or {"type": "function", "function": '
        '{"name": ...}}',
    )


def force_tool_call(payload: dict[str, Any], settings: Settings) -> ForcedTool | None:
    """Rewrite a request that forces one function into guided decoding of its parameters.

    The body is changed in place (the tool fields go, ``response_format`` carries the schema);
    None when the request has no tools or ``tool_choice`` is ``"none"``. The schema passes the
    same guard as any user schema, and a refusal names the tool's ``parameters``.
    """
    if not payload.get("tools"):
        return None
    choice = payload.get("tool_choice")
    if choice == "none":
        for name in _TOOL_FIELDS:
            payload.pop(name, None)
        return None
    tools = _function_names(payload["tools"])
    names = [name for name, _ in tools]
    index = _chosen_index(choice, names)
    for name in ("response_format", "structured_outputs"):
        if payload.get(name) is not None and not (
            name == "response_format"
            and isinstance(payload[name], dict)
            and payload[name].get("type") == "text"
        ):
            raise bad_value(
                name, "cannot be combined with a forced tool call (the call is the format)"
            )
    name, function = tools[index]
    schema = function.get("parameters") or _EMPTY_OBJECT
    check_schema(schema, f"tools[{index}].function.parameters", settings)
    for key in _TOOL_FIELDS:
        payload.pop(key, None)
    payload["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": schema, "strict": True},
    }
    return ForcedTool(name)


@dataclass(slots=True)
class ForcedTool:
    """The forced function; turns vLLM's JSON answers into calls of it."""

    name: str
    _ids: dict[int, str] = field(default_factory=dict)

    def _call_id(self, index: int) -> str:
        if index not in self._ids:
            self._ids[index] = f"call_{uuid.uuid4().hex[:24]}"
        return self._ids[index]

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """A chat.completion whose message content is the JSON arguments → one tool call.

        ``finish_reason`` ``stop`` becomes ``tool_calls``; ``length`` stays, so a client sees a
        cut-off call as OpenAI reports it.
        """
        for choice in body.get("choices") or ():
            message = choice.get("message")
            if not isinstance(message, dict):
                continue
            arguments = message.get("content") or ""
            message["content"] = None
            message["tool_calls"] = [
                {
                    "id": self._call_id(choice.get("index", 0)),
                    "type": "function",
                    "function": {"name": self.name, "arguments": arguments},
                }
            ]
            if choice.get("finish_reason") == "stop":
                choice["finish_reason"] = "tool_calls"
        return body

    def respond(self, response: Response) -> Response:
        """vLLM's answer (plain or streamed) in the tool-call shape; errors pass as they are."""
        if response.status_code != 200:
            return response
        if isinstance(response, StreamingResponse):
            response.body_iterator = self.rewrite_stream(response.body_iterator)
            return response
        body = self.answer(json.loads(bytes(response.body)))
        return Response(
            json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            media_type="application/json",
        )

    def _delta(self, chunk: dict[str, Any]) -> dict[str, Any]:
        for choice in chunk.get("choices") or ():
            index = choice.get("index", 0)
            delta = choice.get("delta")
            if isinstance(delta, dict):
                content = delta.pop("content", None)
                first = index not in self._ids
                if first or content:
                    call: dict[str, Any] = {"index": 0, "function": {"arguments": content or ""}}
                    if first:
                        call = {
                            "index": 0,
                            "id": self._call_id(index),
                            "type": "function",
                            "function": {"name": self.name, "arguments": content or ""},
                        }
                        delta["content"] = None
                    delta["tool_calls"] = [call]
            if choice.get("finish_reason") == "stop":
                choice["finish_reason"] = "tool_calls"
        return chunk

    def rewrite_event(self, event: bytes) -> bytes:
        """One SSE event (without its blank-line terminator), its chunk rewritten."""
        if not event.startswith(b"data: ") or event.startswith(b"data: [DONE]"):
            return event
        try:
            chunk = json.loads(event[6:])
        except ValueError:
            return event
        if not isinstance(chunk, dict) or "choices" not in chunk:
            return event  # an in-band error event, for one
        return b"data: " + json.dumps(self._delta(chunk), separators=(",", ":")).encode()

    async def rewrite_stream(self, chunks: AsyncIterable[Any]) -> AsyncIterator[bytes]:
        """Re-frame a relayed chat.completion.chunk stream as tool-call argument deltas.

        Upstream chunks do not align with events, so a partial event waits for its end.
        """
        pending = b""
        async for piece in chunks:
            pending += piece if isinstance(piece, bytes) else str(piece).encode()
            *events, pending = pending.split(b"\n\n")
            if events:
                yield b"".join(self.rewrite_event(e) + b"\n\n" for e in events)
        if pending:
            yield self.rewrite_event(pending)
