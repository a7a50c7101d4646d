"""The engine is killed in the middle of a batch and started again: the batch completes, with
every line answered by the engine and none in the error file (issue 20).

This test runs its own engine (never the session's shared one, which other tests use) on a
free port, and a gateway in front of it with short retry settings: lines run one at a time
(``GATEWAY_BACKGROUND_MAX_IN_FLIGHT=1``) so that the kill lands with most of the batch still
queued, and the first retry waits a tenth of a second (``GATEWAY_BATCH_RETRY_BACKOFF_S``),
doubling up to the worker's 60 s cap, for as many as 30 retries: several minutes of outage,
more than a CPU engine takes to start again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import psutil
import pytest

from tests.support.batches import jsonl, results, sdk, submit, wait_for
from tests.support.engine import Engine, start_engine
from tests.support.gateway_server import GatewayServer, start_gateway
from tests.support.images import data_url, make_image

MODEL = "phi-3.5-vision"
LINES = 8
IMAGE_URL = data_url(make_image(320, 240, seed=5))


@pytest.fixture
def own_engine(tmp_path: Path) -> Iterator[list[Engine]]:
    """A list holding this test's engine (the test replaces it when it starts it again);
    whatever it holds at the end is stopped."""
    engines = [start_engine(tmp_path, reuse_env=False)]
    yield engines
    for engine in engines:
        engine.stop()


def _lines() -> list[dict[str, object]]:
    image = {"type": "image_url", "image_url": {"url": IMAGE_URL}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "Describe"}, image]}]
    return [
        {
            "custom_id": f"line-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": MODEL, "messages": messages, "max_tokens": 8, "seed": i},
        }
        for i in range(LINES)
    ]


def _kill_engine(engine: Engine) -> None:
    """SIGKILL every process group of the engine: ``serve run``'s and vLLM's own (the
    launcher starts vLLM in a session of its own, so killing the launcher's group alone
    would leave vLLM serving), then wait until none of its processes is left."""
    assert engine.proc is not None
    launcher = psutil.Process(engine.proc.pid)
    procs = [launcher, *launcher.children(recursive=True)]
    for group in {os.getpgid(p.pid) for p in procs}:
        os.killpg(group, signal.SIGKILL)
    engine.proc.wait(timeout=30)
    _, alive = psutil.wait_procs(procs, timeout=30)
    assert alive == [], alive


def test_a_batch_outlives_an_engine_killed_and_started_again(
    own_engine: list[Engine], tmp_path: Path
) -> None:
    engine = own_engine[0]
    port = int(engine.base_url.rsplit(":", 1)[1])
    gateway: GatewayServer = start_gateway(
        engine.base_url,
        tmp_path,
        GATEWAY_BACKGROUND_MAX_IN_FLIGHT="1",
        GATEWAY_BATCH_RETRY_BACKOFF_S="0.1",
        GATEWAY_BATCH_RETRY_MAX="30",
        GATEWAY_BATCH_POLL_S="0.2",
    )
    try:
        client: openai.OpenAI = sdk(
            gateway.base_url, gateway.create_key("restart", scopes=["chat"])
        )
        batch = submit(client, jsonl(_lines()))
        deadline = time.monotonic() + 300
        while (done := client.batches.retrieve(batch.id)).request_counts is None or (
            done.request_counts.completed < 1
        ):
            assert done.status in ("validating", "in_progress"), done
            assert time.monotonic() < deadline, f"no line answered: {done}"
            time.sleep(0.2)

        _kill_engine(engine)
        with pytest.raises(httpx.TransportError):
            httpx.get(engine.base_url + "/health", timeout=5)
        during = client.batches.retrieve(batch.id)
        assert during.status == "in_progress", during
        assert during.request_counts is not None
        assert during.request_counts.completed < LINES, "the batch ended before the kill"
        time.sleep(2)  # lines sent now meet a dead engine, and are put back
        own_engine[0] = start_engine(tmp_path, reuse_env=False, port=port)

        finished = wait_for(client, batch.id, timeout=600)
        assert finished.status == "completed", finished
        output = results(client, finished.output_file_id)
        assert sorted(line["custom_id"] for line in output) == [f"line-{i}" for i in range(LINES)]
        assert all(line["response"]["status_code"] == 200 for line in output), output
        assert all(line["response"]["body"]["object"] == "chat.completion" for line in output)
        assert results(client, finished.error_file_id) == []
    finally:
        gateway.stop()
