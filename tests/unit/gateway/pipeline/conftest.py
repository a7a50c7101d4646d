"""Pipeline tests run the extraction pipeline with no HTTP at all: a `Context` built by
hand, a scripted upstream, pages given as images (``image_urls``) or a rendered PDF."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from gateway.documents import RenderPool
from gateway.pipeline import Context, load_source
from gateway.pipeline.source import Source
from gateway.record import RequestRecord
from gateway.settings import Settings
from tests.support.images import data_url, make_image
from tests.support.scripted_upstream import ScriptedUpstream

MakeContext = Callable[[ScriptedUpstream], Context]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(keys_db=tmp_path / "k.db", upstream_url="http://127.0.0.1:9")


@pytest.fixture
async def render_pool() -> AsyncIterator[RenderPool]:
    pool = RenderPool(1)
    try:
        yield pool
    finally:
        await pool.aclose()


@pytest.fixture
def make_context(settings: Settings, render_pool: RenderPool) -> MakeContext:
    def make(upstream: ScriptedUpstream) -> Context:
        return Context(
            settings=settings,
            upstream=upstream,  # type: ignore[arg-type]
            record=RequestRecord("test", 0.0),
            render_pool=render_pool,
        )

    return make


async def page_images(ctx: Context, count: int, crops: int = 4) -> Source:
    """``count`` distinct images as the pages of one document (``image_urls``)."""
    urls = [data_url(make_image(96, 72, seed=n)) for n in range(1, count + 1)]
    return await load_source(ctx, image_url=None, image_urls=urls, upload=None, num_crops=crops)
