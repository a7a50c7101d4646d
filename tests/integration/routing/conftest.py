"""A second real vLLM replica, for the routing tests in this folder only.

The rest of the suite shares the one ``vllm_engine``; only tests that ask for
``second_vllm_engine`` pay another ~1 min and ~4 GB for this one. It is started the same way
(``python -m serve run --profile cpu-dev``) and stopped by process group at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.engine import Engine, start_engine


@pytest.fixture(scope="session")
def second_vllm_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = start_engine(tmp_path_factory.mktemp("engine-2"), reuse_env=False)
    try:
        yield engine
    finally:
        engine.stop()
