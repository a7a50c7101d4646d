"""The predictor's inputs as plain, checked values, and the one error type it raises.

Cog hands ``run()`` typed values; what Cog's schema cannot say is checked here, each failure
a `PredictionError` whose message starts with the input's name (``image_urls[1]: …``), so a
failed prediction says what to fix. Gateway errors from the pipeline become the same
(`from_gateway`): the server never crashes on bad input, the prediction fails.

``image_urls`` is one string of comma-separated http(s) URLs (Replicate's form shows one text
box): a data URL contains a comma, so it belongs in ``image`` (a file) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import GatewayError
from ..pipeline import read_cap
from ..settings import Settings

__all__ = ["Inputs", "PredictionError", "from_gateway", "read_upload", "split_urls"]


class PredictionError(Exception):
    """A prediction that cannot run as asked; ``str()`` is the message the caller sees."""


def from_gateway(exc: GatewayError) -> PredictionError:
    """The pipeline's error as a prediction failure: ``param: message (code)``, so that every
    failure starts with the input to fix."""
    message = exc.message
    if exc.param and not message.startswith(f"{exc.param}:"):
        message = f"{exc.param}: {message}"
    if exc.code:
        message += f" ({exc.code})"
    return PredictionError(message)


@dataclass(frozen=True)
class Inputs:
    """One prediction's inputs, checked: at most one of ``upload`` and ``image_urls``."""

    upload: bytes | None
    image_urls: list[str] | None
    prompt: str
    schema: str
    num_crops: int | None
    pages: str | None
    max_tokens: int | None
    temperature: float
    top_p: float
    seed: int | None
    confidence: bool
    grounding: bool | None = None

    @property
    def has_image(self) -> bool:
        return self.upload is not None or self.image_urls is not None


def split_urls(text: str) -> list[str] | None:
    """``image_urls`` as a list (None when empty); every item must be an http(s) URL."""
    urls = [part.strip() for part in text.split(",") if part.strip()]
    for i, url in enumerate(urls):
        if not url.lower().startswith(("http://", "https://")):
            hint = " (a data URL contains commas: send it as `image`)" if url[:5] == "data:" else ""
            raise PredictionError(f"image_urls[{i}]: {url[:40]!r} is not an http(s) URL{hint}")
    return urls or None


def read_upload(path: Path | None, settings: Settings) -> bytes | None:
    """The ``image`` file's bytes, refused above the larger of the image and document caps
    before all of it is read."""
    if path is None:
        return None
    cap = read_cap(settings)
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise PredictionError(f"image: the file is larger than {cap} bytes")
    return data
