"""What ``predict.py`` delegates to: the engine and the runtime, built once in ``setup()``.

    service = Service.start(weights=None)     # engine started or attached; settings made
    output = await service.predict(image=..., image_urls="", prompt="", schema="invoice", ...)

The gateway's settings come from the environment as for ``python -m gateway serve``
(``GATEWAY_*``: caps, fetch allowlist, timeouts), with the upstream set to the engine and,
when we started it, the image limit set to its profile's ``limit_mm_per_prompt`` (what vLLM
refuses above).
"""

from __future__ import annotations

import asyncio
import atexit
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from ..settings import Settings
from .engine import Engine, engine_from_env
from .inputs import Inputs, PredictionError, read_upload, split_urls
from .output import Output
from .runtime import Runtime

__all__ = ["MAX_CONCURRENCY", "Service"]

MAX_CONCURRENCY = 16
"""Predictions served at once (``@cog.concurrent(max=16)`` in predict.py; ``COG_MAX_CONCURRENCY``
overrides it at run time). vLLM batches them; the pages of a document count as one
prediction here and take up to GATEWAY_DOCUMENT_PAGE_CONCURRENCY engine calls each."""


@dataclass
class Service:
    engine: Engine
    runtime: Runtime

    @classmethod
    def start(cls, weights: Any = None) -> Service:
        """Start or attach the engine (one-line `ServeError` when it cannot) and the runtime."""
        engine = engine_from_env(str(weights) if weights else None)
        atexit.register(engine.stop)
        overrides: dict[str, Any] = {"upstream_url": engine.base_url}
        if engine.max_images is not None:
            overrides["max_images_per_request"] = engine.max_images
        settings = Settings(**overrides)
        Image.MAX_IMAGE_PIXELS = settings.max_image_pixels  # as create_app does
        return cls(engine, Runtime(settings, engine.model_revision))

    async def predict(
        self,
        *,
        image: Path | None,
        image_urls: str,
        prompt: str,
        schema: str,
        num_crops: int | None,
        pages: str,
        max_tokens: int | None,
        temperature: float,
        top_p: float,
        seed: int | None,
        confidence: bool,
        grounding: bool | None = None,
    ) -> Output:
        """Check the inputs and run the prediction (`PredictionError` for bad input)."""
        urls = split_urls(image_urls)
        if image is not None and urls is not None:
            raise PredictionError("image_urls: send either image or image_urls, not both")
        upload = await asyncio.to_thread(read_upload, image, self.runtime.settings)
        inputs = Inputs(
            upload=upload,
            image_urls=urls,
            prompt=prompt,
            schema=schema.strip(),
            num_crops=num_crops,
            pages=pages.strip() or None,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            confidence=confidence,
            grounding=grounding,
        )
        return await self.runtime.predict(inputs)
