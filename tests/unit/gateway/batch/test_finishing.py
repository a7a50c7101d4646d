"""Finishing a batch: a finisher that died is taken over once its lease lapses, the files
hold every custom_id once, and an ended batch is never finished again."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from gateway.auth import KeyStore
from gateway.batch.blobs import LocalBlobs
from gateway.batch.sqlite import SqliteBatchStore
from gateway.batch.store import BatchRow, InputLine
from gateway.batch.worker import BatchWorker
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings


def test_a_finish_interrupted_by_a_crash_is_done_again_once(tmp_path: Path) -> None:
    key = KeyStore(tmp_path / "keys.db").create("alice")
    store = SqliteBatchStore(tmp_path / "keys.db")
    blobs = LocalBlobs(tmp_path / "files")
    settings = Settings(keys_db=tmp_path / "keys.db", batch_lease_s=5)
    worker = BatchWorker(store, blobs, None, settings, GatewayMetrics(), 1)  # type: ignore[arg-type]
    now = time.time()
    row = BatchRow(
        id="batch_9",
        owner=key[:12],
        key_name="alice",
        endpoint="/v1/chat/completions",
        input_file_id="file-9",
        completion_window="24h",
        status="validating",
        created_at=now,
        expires_at=now + 3600,
    )

    async def scenario() -> None:
        await store.create_batch(row)
        await store.add_lines(row.id, [InputLine(i, f"c{i}", "{}") for i in (1, 2, 3)], now)
        await store.start_batch(row.id, 3, now)
        for unit in await store.claim(now, 5, 10):
            await store.finish(unit, json.dumps({"custom_id": unit.custom_id}), unit.line == 2)
        [(batch, reason)] = await store.close_due(now, 5)
        assert reason == "done"
        # the finisher dies here; its lease lapses and the next round takes the batch over
        assert await store.close_due(now + 1, 5) == []
        [(again, reason)] = await store.close_due(now + 6, 5)
        assert again.id == batch.id and again.status == "finalizing" and reason == "done"
        await worker.finish_batch(again, reason)
        await worker.finish_batch(again, reason)  # a stale second finisher changes nothing
        done = await store.get_batch(row.owner, row.id)
        assert done is not None and done.status == "completed" and done.completed_at
        output = (tmp_path / "files" / str(done.output_file_id)).read_text().splitlines()
        errors = (tmp_path / "files" / str(done.error_file_id)).read_text().splitlines()
        assert [json.loads(x)["custom_id"] for x in output] == ["c1", "c3"]
        assert [json.loads(x)["custom_id"] for x in errors] == ["c2"]
        assert await store.close_due(now + 60, 5) == []

    asyncio.run(scenario())
