"""``SqliteJobStore``: leases, a page range written once, planning, idempotency, revoked keys,
cancel and expiry."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gateway.auth import KeyStore
from gateway.jobs.sqlite import SqliteJobStore
from gateway.jobs.store import JobRow, UnitPlan


def _job(owner: str, job_id: str = "job_1", **fields: object) -> JobRow:
    now = time.time()
    values: dict[str, object] = {
        "id": job_id,
        "owner": owner,
        "key_name": "alice",
        "specs": [("table", 1)],
        "multi": False,
        "request": "{}",
        "num_crops": 1,
        "source": {"kind": "document", "blob": "b", "doc_kind": "pdf", "param": "image_url"},
        "mode": "pages",
        "fingerprint": "f1",
        "status": "queued",
        "created_at": now,
        "expires_at": now + 3600,
    }
    values.update(fields)
    return JobRow(**values)  # type: ignore[arg-type]


def _setup(tmp_path: Path) -> tuple[KeyStore, SqliteJobStore, str]:
    keys = KeyStore(tmp_path / "keys.db")
    key = keys.create("alice", max_concurrent=3)
    return keys, SqliteJobStore(tmp_path / "keys.db"), key[:12]


def test_a_range_is_written_once_by_the_lease_that_ran_it(tmp_path: Path) -> None:
    _, store, owner = _setup(tmp_path)

    async def scenario() -> None:
        now = time.time()
        await store.create_job(_job(owner), [])
        assert await store.claim(now, 5, 10) == []  # not planned yet
        planning = await store.claim_planning(now, 5)
        assert planning is not None and planning.status == "in_progress"
        assert await store.claim_planning(now, 5) is None  # leased
        await store.plan("job_1", 10, [UnitPlan("1-8", 8), UnitPlan("9-10", 2)], now)
        await store.plan("job_1", 10, [UnitPlan("1-10", 10)], now)  # planned once
        first = await store.claim(now, 5, 1)
        assert [u.pages for u in first] == ["1-8"] and first[0].max_concurrent == 3
        [other] = await store.claim(now, 5, 10)
        assert other.pages == "9-10" and await store.claim(now, 5, 10) == []
        [again] = await store.claim(now + 6, 5, 1)  # the first lease lapsed
        assert again.id == first[0].id and again.token != first[0].token
        assert not await store.finish_unit(first[0], '{"stale": 1}')
        assert await store.finish_unit(again, '{"fresh": 1}')
        assert not await store.finish_unit(again, '{"twice": 1}')
        assert await store.claim_finishing(now, 5) == []  # a range is still running
        assert await store.finish_unit(other, '{"other": 1}')
        job = await store.get_job(owner, "job_1")
        assert job is not None and (job.pages_total, job.pages_done, job.page_count) == (10, 10, 10)
        [finishing] = await store.claim_finishing(now, 5)
        assert finishing.id == "job_1" and await store.claim_finishing(now, 5) == []
        results = [("1-8", '{"fresh": 1}'), ("9-10", '{"other": 1}')]
        assert await store.unit_results("job_1") == results
        ended = await store.end_job("job_1", "completed", {"ok": True}, None, now)
        assert ended is not None and ended.result == {"ok": True} and ended.completed_at
        assert await store.end_job("job_1", "failed", None, {"x": 1}, now) is None  # once
        assert await store.unit_results("job_1") == []

    asyncio.run(scenario())


def test_idempotency_keys_are_per_owner_and_return_the_first_job(tmp_path: Path) -> None:
    keys, store, owner = _setup(tmp_path)
    other = keys.create("bob")[:12]

    async def scenario() -> None:
        first = await store.create_job(_job(owner, idempotency_key="k"), [])
        again = await store.create_job(_job(owner, "job_2", idempotency_key="k"), [])
        assert again.id == first.id == "job_1"
        theirs = await store.create_job(_job(other, "job_3", idempotency_key="k"), [])
        assert theirs.id == "job_3"
        found = await store.find_idempotent(owner, "k")
        assert found is not None and found.id == "job_1"
        assert await store.get_job(other, "job_1") is None  # another owner's: not there

    asyncio.run(scenario())


def test_revoked_keys_jobs_are_cancelled_and_never_claimed(tmp_path: Path) -> None:
    keys, store, owner = _setup(tmp_path)

    async def scenario() -> None:
        now = time.time()
        await store.create_job(_job(owner, mode="whole", planned=True), [UnitPlan("", 1)])
        keys.revoke("alice")
        assert await store.claim(now, 5, 10) == []
        [cancelled] = await store.close_inactive({"code": "key_revoked"}, now)
        assert cancelled.status == "cancelled" and cancelled.error == {"code": "key_revoked"}
        assert await store.close_inactive({"code": "key_revoked"}, now) == []

    asyncio.run(scenario())


def test_cancel_drops_the_units_and_expiry_forgets_the_job(tmp_path: Path) -> None:
    _, store, owner = _setup(tmp_path)

    async def scenario() -> None:
        now = time.time()
        await store.create_job(_job(owner, mode="whole", planned=True), [UnitPlan("", 1)])
        [unit] = await store.claim(now, 5, 10)
        row, ended = await store.cancel_job(owner, "job_1", {"code": "job_cancelled"}, now)
        assert ended and row is not None and row.status == "cancelled"
        assert not await store.finish_unit(unit, "{}")  # the running range writes nothing
        assert (await store.cancel_job(owner, "job_1", {}, now))[1] is False
        assert await store.take_expired(now) == []
        [gone] = await store.take_expired(now + 3601)
        assert gone.id == "job_1" and await store.get_job(owner, "job_1") is None

    asyncio.run(scenario())
