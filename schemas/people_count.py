"""`people_count`: how many people an image shows, with the model's confidence.

Users ask this with one stock prompt (`USER_PROMPT`, word for word below). It asks for a bare
number; guided decoding puts that number in ``count`` instead, so the answer stays typed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import Confidence, Count
from schemas.spec import SchemaSpec

__all__ = ["SPEC", "USER_PROMPT", "PeopleCount"]

USER_PROMPT = (
    "Tell me how many people are in this image. Your answer should be just a single number, "
    'for example "2". When I ask you how many people are in the image you must only output a '
    "number with no additional text. For example if I asked you how many people were in an "
    'image and there were 2 people you would only respond with "2".'
)
"""The counting prompt users send, verbatim; the instructions contain it unchanged."""


class PeopleCount(BaseModel):
    """The number of people visible in an image."""

    model_config = ConfigDict(extra="forbid")

    count: Count = Field(
        description="Number of people visible in the image, including partly visible ones; "
        "0 if none."
    )
    confidence: Confidence = Field(
        description="'high' if every person is clearly visible, 'medium' if some are "
        "occluded or small, 'low' for crowds or unclear images."
    )


SPEC: SchemaSpec[PeopleCount] = SchemaSpec(
    name="people_count",
    description="Number of people in the image, with a confidence level.",
    model=PeopleCount,
    instructions=(
        USER_PROMPT + " Put that number in the count field of the JSON object, and how sure "
        "you are (low, medium or high) in the confidence field."
    ),
    num_crops=4,
    max_tokens=64,
    transcribed=(),  # a description of the picture: nothing in it is printed text
    example=PeopleCount(count=2, confidence="high"),
)
"""The registered spec; a complete answer is about 15 tokens."""
