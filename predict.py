"""The Cog predictor that cog.yaml names: inputs typed for Replicate, work delegated.

Everything but the signature lives in `gateway.predictor` (docs/replicate.md). The signature
stays here, literal, because Cog's CLI reads this file statically to write the OpenAPI
schema; ``python -m gateway.predictor.openapi`` writes the same file without the CLI.
"""

from typing import Optional  # Cog's static schema parser reads Optional

import cog
from cog import BaseRunner, Input, Path

from gateway.predictor.output import Output
from gateway.predictor.service import Service


class Predictor(BaseRunner):
    def setup(self, weights: Optional[Path] = None) -> None:
        """Start vLLM with the profile for this GPU (or attach to COG_ENGINE_URL)."""
        self.service = Service.start(weights)

    @cog.concurrent(max=16)  # service.MAX_CONCURRENCY; COG_MAX_CONCURRENCY overrides it
    async def run(
        self,
        image: Optional[Path] = Input(
            description="An image (PNG, JPEG, WebP, GIF, BMP), or a PDF or TIFF document. "
            "A URL given here is downloaded by Cog itself, without the address checks that "
            "image_urls gets.",
            default=None,
        ),
        image_urls: str = Input(
            description="Comma-separated http(s) URLs of images, read in order as the pages "
            "of one document; fetched with the gateway's SSRF-safe fetch. Instead of image.",
            default="",
        ),
        prompt: str = Input(
            description="Without a schema: the question, answered in `text`. With a schema: "
            "extra guidance for the extraction (e.g. 'German invoice, amounts in EUR').",
            default="",
        ),
        schema: str = Input(
            description="A registered schema (invoice, receipt, passport, …); empty for a "
            "free answer in `text`.",
            default="",
        ),
        num_crops: Optional[int] = Input(
            description="336-px tiles per image (1-16); default: the schema's recommendation, "
            "or 4 for a free prompt.",
            default=None,
            ge=1,
            le=16,
        ),
        pages: str = Input(
            description="For a PDF or TIFF: the pages to read, 1-based, e.g. '1-3,5'; "
            "default: every page.",
            default="",
        ),
        max_tokens: Optional[int] = Input(
            description="Answer budget; default: the schema's, or 512 for a free prompt.",
            default=None,
            ge=1,
        ),
        temperature: float = Input(
            description="0 gives the most literal transcription.", default=0.0, ge=0.0, le=2.0
        ),
        top_p: float = Input(
            description="Nucleus sampling for a free prompt (an extraction uses 1.0).",
            default=1.0,
            ge=0.01,
            le=1.0,
        ),
        seed: Optional[int] = Input(
            description="Sampling seed: with temperature > 0 the same seed gives the same answer.",
            default=None,
            ge=0,
        ),
        confidence: bool = Input(
            description="Per-field confidence from token log-probabilities (extraction).",
            default=True,
        ),
        grounding: Optional[bool] = Input(
            description="Where on the page each transcribed value is printed (`grounding`), "
            "and a check for values printed nowhere; default: GATEWAY_GROUNDING_DEFAULT "
            "(text_layer: PDF pages with a text layer only).",
            default=None,
        ),
    ) -> Output:
        return await self.service.predict(
            image=image,
            image_urls=image_urls,
            prompt=prompt,
            schema=schema,
            num_crops=num_crops,
            pages=pages,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            confidence=confidence,
            grounding=grounding,
        )
