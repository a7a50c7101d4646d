"""`image_insight`: caption, key facts and tags; the generic fallback for any image.

When no specific kind fits, this still gives typed, searchable output: a caption for people,
facts for downstream logic, and lower-case tags for indexing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import ShortText, Text
from schemas.spec import SchemaSpec

__all__ = ["SPEC", "ImageInsight"]


class ImageInsight(BaseModel):
    """A general-purpose summary of an image."""

    model_config = ConfigDict(extra="forbid")

    caption: Text = Field(description="One sentence saying what the image shows.")
    key_facts: list[Text] = Field(
        max_length=8,
        description="Up to eight short factual statements about the image, most "
        "important first, including any clearly legible text.",
    )
    tags: list[ShortText] = Field(
        max_length=12,
        description="Up to twelve lower-case keywords for search, e.g. 'dog', 'beach', 'sunset'.",
    )


SPEC: SchemaSpec[ImageInsight] = SchemaSpec(
    name="image_insight",
    description="Generic fallback: a caption, key facts and search tags for any image.",
    model=ImageInsight,
    instructions=(
        "Summarise the image: a one-sentence caption, a few key facts (what, who, where, "
        "any legible text) and lower-case search tags. State only what is visible."
    ),
    num_crops=4,
    max_tokens=768,
    transcribed=(),  # a description of the picture: nothing in it is printed text
    example=ImageInsight(
        caption="A golden retriever catching a frisbee on a sandy beach.",
        key_facts=["One dog, mid-jump", "Beach with sea in the background", "Daylight"],
        tags=["dog", "golden retriever", "beach", "frisbee"],
    ),
)
"""The registered spec; the example is a typical photo summary."""
