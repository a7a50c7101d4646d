"""`object_count`: how many foreground subjects an image shows.

Users ask this with one stock prompt (`USER_PROMPT`, word for word below; its second half
mentions people because users copy it from the people prompt). ``count`` comes first, as the
prompt asks for the number above all; ``subject`` then says what was counted.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import Confidence, Count, ShortText
from schemas.spec import SchemaSpec

__all__ = ["SPEC", "USER_PROMPT", "ObjectCount"]

USER_PROMPT = (
    "Count the number of subjects in the image. There will be an obvious background and "
    "foreground, and you will tell me how many objects you see in the foreground. Your answer "
    'should be just a single number, for example "2". When I ask you how many people are in '
    "the image you must only output a number with no additional text. For example if I asked "
    "you how many people were in an image and there were 2 people you would only respond "
    'with "2".'
)
"""The counting prompt users send, verbatim; the instructions contain it unchanged."""


class ObjectCount(BaseModel):
    """The number of foreground subjects in an image."""

    model_config = ConfigDict(extra="forbid")

    count: Count = Field(
        description="Number of distinct subjects in the foreground, ignoring the background."
    )
    confidence: Confidence = Field(
        description="'high' if the subjects are clearly separate, 'medium' if some overlap, "
        "'low' if foreground and background are hard to tell apart."
    )
    subject: ShortText | None = Field(
        default=None,
        description="What the counted subjects are, e.g. 'apples' or 'cars'; null if mixed.",
    )


SPEC: SchemaSpec[ObjectCount] = SchemaSpec(
    name="object_count",
    description="Number of foreground subjects in the image, with confidence and label.",
    model=ObjectCount,
    instructions=(
        USER_PROMPT + " Put that number in the count field of the JSON object, how sure you "
        "are (low, medium or high) in the confidence field, and what you counted in the "
        "subject field."
    ),
    num_crops=4,
    max_tokens=128,
    transcribed=(),  # a description of the picture: nothing in it is printed text
    example=ObjectCount(count=3, confidence="medium", subject="apples"),
)
"""The registered spec; a complete answer is about 25 tokens."""
