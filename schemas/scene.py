"""`scene`: what a photo shows and how risky it looks, as for dash-cam or safety photos.

The risk level is an enum rather than a score so that the answer is comparable across
requests and easy to alert on; the hazards list says why.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import ShortText, Text
from schemas.spec import SchemaSpec

__all__ = ["SPEC", "RiskLevel", "Scene"]

RiskLevel = Literal["none", "low", "medium", "high"]


class Scene(BaseModel):
    """A short assessment of a photographed scene."""

    model_config = ConfigDict(extra="forbid")

    description: Text = Field(description="One or two sentences describing the scene.")
    setting: ShortText = Field(
        description="Kind of place, e.g. 'urban intersection', 'warehouse aisle', 'kitchen'."
    )
    notable_elements: list[ShortText] = Field(
        max_length=8,
        description="Notable or unusual things in the image, most important first; empty if "
        "nothing stands out.",
    )
    hazards: list[ShortText] = Field(
        max_length=8,
        description="Visible hazards to people or property, each a short phrase (e.g. "
        "'cyclist in the blind spot'); empty if none.",
    )
    risk_level: RiskLevel = Field(
        description="Overall risk: 'none' (no hazard), 'low' (minor, no action needed), "
        "'medium' (needs attention soon), 'high' (immediate danger)."
    )


SPEC: SchemaSpec[Scene] = SchemaSpec(
    name="scene",
    description="Scene assessment: description, setting, notable elements, hazards, risk level.",
    model=Scene,
    instructions=(
        "Describe the scene: what happens, the setting, notable or unusual elements, hazards "
        "to people or property, and an overall risk level. Report only what is visible."
    ),
    num_crops=4,
    max_tokens=768,
    transcribed=(),  # a description of the picture: nothing in it is printed text
    example=Scene(
        description="A wet city street at dusk with a cyclist passing a parked delivery van.",
        setting="urban street",
        notable_elements=["delivery van double-parked", "wet road surface"],
        hazards=["cyclist forced into traffic lane by parked van", "slippery road"],
        risk_level="medium",
    ),
)
"""The registered spec; the example is a typical dash-cam frame."""
