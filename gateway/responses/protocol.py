"""The Responses API request body (``POST /v1/responses``) as the OpenAPI document declares it.

Documentation only, like ``chat.protocol``: the route parses the body once and
``validation.validate_responses_request`` holds it to what the gateway relies on. Open models
(``extra="allow"``) that declare what the gateway reads or checks. The stateful fields it
refuses (``previous_response_id``, ``background``, ``conversation``, ``tools``) are named in
the description rather than declared, so a generated client does not offer them.

    schema = ResponsesRequest.model_json_schema()
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ..chat.protocol import MMProcessorKwargs
from ..openapi import OPEN

__all__ = [
    "ResponsesRequest",
    "ResponsesMessage",
    "ResponsesInputText",
    "ResponsesInputImage",
    "ResponsesText",
    "ResponsesJSONSchemaFormat",
]


class ResponsesInputText(BaseModel):
    """Text; ``output_text`` is an earlier answer of the assistant, sent back as history."""

    model_config = OPEN

    type: Literal["input_text", "output_text"]
    text: str


class ResponsesInputImage(BaseModel):
    """An image; the gateway checks it and sends it on as a validated data URL."""

    model_config = OPEN

    type: Literal["input_image"]
    image_url: str = Field(
        description="A `data:image/...;base64,` URL, or an http(s) URL the gateway fetches. "
        "`file_id` is refused (there is no Files API here)."
    )
    detail: Literal["low", "high", "auto"] | None = None


ResponsesContentPart = Annotated[
    ResponsesInputText | ResponsesInputImage, Field(discriminator="type")
]


class ResponsesMessage(BaseModel):
    """One message item of ``input`` (the only item type a stateless gateway takes)."""

    model_config = OPEN

    type: Literal["message"] | None = None
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ResponsesContentPart]


class ResponsesTextFormatText(BaseModel):
    model_config = OPEN

    type: Literal["text"]


class ResponsesJSONObjectFormat(BaseModel):
    model_config = OPEN

    type: Literal["json_object"]


class ResponsesJSONSchemaFormat(BaseModel):
    """What ``client.responses.parse(text_format=Model)`` sends."""

    model_config = OPEN

    type: Literal["json_schema"]
    name: str
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema", description="The answer's JSON Schema.")
    strict: bool | None = None


ResponsesTextFormat = Annotated[
    ResponsesTextFormatText | ResponsesJSONObjectFormat | ResponsesJSONSchemaFormat,
    Field(discriminator="type"),
]


class ResponsesText(BaseModel):
    model_config = OPEN

    format: ResponsesTextFormat | None = None


class ResponsesRequest(BaseModel):
    """An OpenAI responses.create request. Fields not listed pass through to vLLM, except
    those that need a stored response (``previous_response_id``, ``background``,
    ``conversation``) and ``tools``, which are refused with 400 ``unsupported_parameter``."""

    model_config = OPEN

    model: str = Field(description="The served model's name (`GET /v1/models`).")
    input: str | Annotated[list[ResponsesMessage], Field(min_length=1)] = Field(
        description="A prompt, or the whole conversation as message items."
    )
    instructions: str | None = None
    max_output_tokens: int | None = Field(
        default=None, ge=1, description="At most GATEWAY_MAX_TOKENS_CAP (4096 by default)."
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stream: bool | None = Field(
        default=None, description="Answer as `response.*` events ending with response.completed."
    )
    store: bool | None = Field(
        default=None, description="Always forced to false: the gateway keeps no responses."
    )
    text: ResponsesText | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    user: str | None = None
    mm_processor_kwargs: MMProcessorKwargs | None = None
