"""The chat.completions request body as the OpenAPI document declares it.

These models are the wire contract for a generated client and for the schemathesis run, and
nothing more: the route never builds them. It forwards the bytes it received (``routes``),
and ``validation.validate_chat_request`` holds a body to what the gateway relies on, field by
field, at a fraction of the cost of validating into models. So every model here is open
(``extra="allow"``: vLLM's own fields, and fields OpenAI adds later, pass through), and
each declares only what the gateway reads or checks, with the same bounds, so that a body
valid here passes the checks unless a setting (a cap, the image count) says otherwise.

    schema = request_schema(ChatCompletionRequest)    # (schema, {name: component})
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from schemas.spec import MAX_NUM_CROPS

from ..openapi import OPEN

__all__ = [
    "ChatCompletionRequest",
    "ChatMessage",
    "ChatTextPart",
    "ChatImagePart",
    "ChatImageURL",
    "ChatTool",
    "ChatFunction",
    "ChatNamedToolChoice",
    "ChatResponseFormat",
    "ChatJSONSchema",
    "ChatStreamOptions",
    "MMProcessorKwargs",
]


class ChatImageURL(BaseModel):
    """Where an image comes from, and how closely to look at it."""

    model_config = OPEN

    url: str = Field(
        description="A `data:image/...;base64,` URL, or an http(s) URL the gateway fetches "
        "(public addresses only; the operator may restrict hosts)."
    )
    detail: Literal["low", "high", "auto"] | None = Field(
        default=None,
        description="`low` and `high` choose the crops the model sees (`num_crops`); `auto`, "
        "or none, leaves the gateway's default.",
    )


class ChatTextPart(BaseModel):
    model_config = OPEN

    type: Literal["text"]
    text: str


class ChatImagePart(BaseModel):
    """An image; the gateway checks it and sends it on as a validated data URL."""

    model_config = OPEN

    type: Literal["image_url"]
    image_url: ChatImageURL


ChatContentPart = Annotated[ChatTextPart | ChatImagePart, Field(discriminator="type")]


class ChatMessage(BaseModel):
    """One message. ``content`` is text or a list of parts; an assistant message that only
    called tools may have none."""

    model_config = OPEN

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ChatContentPart] | None = None
    name: str | None = None


class ChatFunction(BaseModel):
    model_config = OPEN

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = Field(
        default=None,
        description="A JSON Schema object; it passes the same guard as a response_format "
        "schema (size, depth, keywords the decoder enforces).",
    )


class ChatTool(BaseModel):
    """A function tool. The model cannot choose among tools: force one with ``tool_choice``
    and the gateway answers with its call, the arguments guided by ``parameters``."""

    model_config = OPEN

    type: Literal["function"]
    function: ChatFunction


class ChatToolName(BaseModel):
    model_config = OPEN

    name: str


class ChatNamedToolChoice(BaseModel):
    model_config = OPEN

    type: Literal["function"]
    function: ChatToolName


class ChatJSONSchema(BaseModel):
    model_config = OPEN

    name: str
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema", description="The answer's JSON Schema.")
    strict: bool | None = None


class ChatTextFormat(BaseModel):
    model_config = OPEN

    type: Literal["text"]


class ChatJSONObjectFormat(BaseModel):
    model_config = OPEN

    type: Literal["json_object"]


class ChatJSONSchemaFormat(BaseModel):
    model_config = OPEN

    type: Literal["json_schema"]
    json_schema: ChatJSONSchema


ChatResponseFormat = Annotated[
    ChatTextFormat | ChatJSONObjectFormat | ChatJSONSchemaFormat, Field(discriminator="type")
]


class ChatStreamOptions(BaseModel):
    model_config = OPEN

    include_usage: bool | None = None
    continuous_usage_stats: bool | None = None


class MMProcessorKwargs(BaseModel):
    """vLLM's per-request processor options; the gateway reads ``num_crops``."""

    model_config = OPEN

    num_crops: int | None = Field(
        default=None,
        ge=1,
        le=MAX_NUM_CROPS,
        description="Crops per image, within GATEWAY_NUM_CROPS_MIN..GATEWAY_NUM_CROPS_MAX.",
    )


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat.completions request. Fields not listed pass through to vLLM."""

    model_config = OPEN

    model: str = Field(description="The served model's name (`GET /v1/models`).")
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(
        default=None, ge=1, description="At most GATEWAY_MAX_TOKENS_CAP (4096 by default)."
    )
    max_completion_tokens: int | None = Field(
        default=None, ge=1, description="The same cap as `max_tokens`."
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: int | None = Field(default=None, ge=1, description="At most GATEWAY_MAX_N (4 by default).")
    stream: bool | None = Field(
        default=None, description="Answer as an event stream ending with `data: [DONE]`."
    )
    stream_options: ChatStreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: ChatResponseFormat | None = None
    tools: list[ChatTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | ChatNamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None
    mm_processor_kwargs: MMProcessorKwargs | None = None
