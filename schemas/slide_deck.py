"""`slide_deck`: a presentation read as a whole: its title, each slide's key points, a summary.

Unlike the document kinds, a deck is asked in **one** request with every slide as an image,
at ``num_crops=4`` (Microsoft's Phi-3.5-vision example summarises a 19-slide deck this way:
"for best performance, use num_crops=4 for multi-frame"); the summary needs all slides at
once, so there is nothing to merge. It works for a PDF deck and for a list of images.

Bounds keep guided decoding finite: up to `MAX_SLIDES` slides (the most images an engine
profile takes in one request), four key points of `ShortText` per slide.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import ShortText, Text
from schemas.spec import SchemaSpec

__all__ = ["MAX_KEY_POINTS", "MAX_SLIDES", "SPEC", "Slide", "SlideDeck"]

MAX_SLIDES = 24
"""The GPU profiles take 24 images per request (``serve/profiles.py``)."""
MAX_KEY_POINTS = 4


class Slide(BaseModel):
    """One slide, in the order the images were given."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, le=MAX_SLIDES, description="1 for the first image, and so on.")
    title: ShortText | None = Field(default=None, description="The slide's heading, if any.")
    key_points: list[ShortText] = Field(
        max_length=MAX_KEY_POINTS,
        description="The slide's main points as short phrases, most important first; empty "
        "for a slide with no message (a title or section divider).",
    )


class SlideDeck(BaseModel):
    """A whole presentation: title, one entry per slide, and what it says overall."""

    model_config = ConfigDict(extra="forbid")

    title: ShortText | None = Field(
        default=None, description="The deck's title, usually on the first slide."
    )
    slides: list[Slide] = Field(
        max_length=MAX_SLIDES, description="One entry per image, in the order given."
    )
    summary: Text = Field(description="What the deck says as a whole, in two sentences.")


SPEC: SchemaSpec[SlideDeck] = SchemaSpec(
    name="slide_deck",
    description="Slide deck (all slides in one request): title, key points per slide, summary.",
    model=SlideDeck,
    instructions=(
        "The images are the slides of one presentation, in order. Give the deck's title, "
        "one entry per slide with its heading and key points, and a two-sentence summary "
        "of the whole deck."
    ),
    num_crops=4,
    max_tokens=2048,
    pages="together",
    # Headings are printed; the key points and the summary are the model's own words.
    transcribed=("/title", "/slides/*/title"),
    example=SlideDeck(
        title="Q3 business review",
        slides=[
            Slide(number=1, title="Q3 business review", key_points=[]),
            Slide(
                number=2,
                title="Revenue",
                key_points=["revenue up 12% on Q2", "EMEA grew fastest"],
            ),
            Slide(number=3, title="Next steps", key_points=["hire two engineers"]),
        ],
        summary="Revenue grew 12% in Q3, led by EMEA. The team plans to hire two engineers.",
    ),
)
"""The registered spec; the example is a three-slide quarterly review."""
