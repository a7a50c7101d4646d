"""``PostgresJobStore`` and ``QueuedJobWorker``'s recovery on a real PostgreSQL: one
procrastinate job per unit, units leased once across claimers (``SKIP LOCKED``), a result
written once under its lease, a lapsed lease taken again, a dead worker's unit job retried,
revoked keys' work not run, and a job's end queueing its webhook in the same transaction."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import anyio
import psycopg
import pytest

from gateway.auth.postgres import PostgresKeys
from gateway.jobs.pg_store import QUEUE, UNIT_TASK, PostgresJobStore
from gateway.jobs.pg_worker import QueuedJobWorker
from gateway.jobs.store import JobRow, JobUnit, UnitPlan
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(db: tuple[str, PostgresKeys]) -> AsyncIterator[PostgresJobStore]:
    pg = PostgresJobStore(db[0])
    await pg.open()
    try:
        yield pg
    finally:
        await pg.close()


def _row(owner: str, job_id: str = "job_1", **more: object) -> JobRow:
    now = time.time()
    fields: dict[str, object] = {
        "id": job_id,
        "owner": owner,
        "key_name": "alice",
        "specs": [("table", 1)],
        "multi": False,
        "request": "{}",
        "num_crops": 1,
        "source": {"blob": "blob-1", "kind": "document", "doc_kind": "pdf", "owned": True},
        "mode": "pages",
        "fingerprint": "f",
        "status": "queued",
        "created_at": now,
        "expires_at": now + 3600,
    }
    fields.update(more)
    return JobRow(**fields)  # type: ignore[arg-type]


async def _planned(store: PostgresJobStore, owner: str, units: int, **more: object) -> JobRow:
    job = await store.create_job(_row(owner, **more), [])
    planning = await store.claim_planning(time.time(), lease_s=5)
    assert planning is not None and planning.id == job.id and planning.status == "in_progress"
    assert await store.claim_planning(time.time(), lease_s=5) is None  # leased
    plans = [UnitPlan(f"{2 * i + 1}-{2 * i + 2}", 2) for i in range(units)]
    await store.plan(job.id, 2 * units, plans, time.time())
    await store.plan(job.id, 2 * units, plans, time.time())  # a second plan: ignored
    return job


async def test_a_unit_is_leased_once_and_its_result_written_once(
    db: tuple[str, PostgresKeys], store: PostgresJobStore
) -> None:
    key = await db[1].create("alice", max_concurrent=3)
    job = await _planned(store, key[:12], units=3)
    now = time.time()
    # Concurrent claimers (as two replicas' loops) never take the same unit.
    results = await _claim_together(store, now, claimers=3)
    taken = [u.id for units in results for u in units]
    assert sorted(taken) == [f"{job.id}:{n}" for n in range(3)]
    first = next(u for units in results for u in units if u.n == 0)
    assert first.max_concurrent == 3 and first.pages == "1-2" and first.owner == key[:12]
    assert await store.claim(now, lease_s=5, limit=10) == []  # every unit leased
    [second, *_] = [u for u in await store.claim(now + 6, lease_s=5, limit=10) if u.n == 0]
    assert second.token != first.token  # the lease lapsed: taken again
    assert not await store.finish_unit(first, json.dumps({"stale": True}))
    assert await store.finish_unit(second, json.dumps({"page": 1}))
    assert not await store.finish_unit(second, json.dumps({"again": True}))
    got = await store.get_job(key[:12], job.id)
    assert got is not None and got.pages_done == 2 and got.pages_total == 6
    assert await store.get_job("someone-else", job.id) is None
    assert await store.unit_results(job.id) == [("1-2", json.dumps({"page": 1}))]
    assert await store.claim_finishing(time.time(), lease_s=5) == []  # units left


async def _claim_together(
    store: PostgresJobStore, now: float, claimers: int
) -> list[list[JobUnit]]:
    out: list[list[JobUnit]] = []

    async def one() -> None:
        out.append(await store.claim(now, lease_s=5, limit=1))

    async with anyio.create_task_group() as tg:
        for _ in range(claimers):
            tg.start_soon(one)
    return out


async def test_a_finished_job_ends_once_and_queues_its_webhook(
    db: tuple[str, PostgresKeys], store: PostgresJobStore
) -> None:
    key = await db[1].create("alice")
    job = await _planned(store, key[:12], units=2, webhook_url="https://example.com/h")
    now = time.time()
    units = await store.claim(now, lease_s=5, limit=10)
    [first] = [u for u in units if u.n == 0]
    [later] = [u for u in units if u.n == 1]
    assert await store.finish_unit(first, json.dumps({"n": 0}))
    await store.retry_later(later, now + 30)  # the engine was away: due later
    assert await store.claim(now + 1, lease_s=5, limit=10) == []
    [again] = await store.claim(now + 31, lease_s=5, limit=10)
    assert again.id == later.id and again.retries == 1
    assert await store.finish_unit(again, json.dumps({"n": 1}))
    [done] = await store.claim_finishing(time.time(), lease_s=5)
    assert done.id == job.id
    assert await store.claim_finishing(time.time(), lease_s=5) == []  # leased to us
    ended = await store.end_job(job.id, "completed", {"ok": True}, None, time.time())
    assert ended is not None and ended.status == "completed" and ended.result == {"ok": True}
    assert await store.end_job(job.id, "failed", None, {}, time.time()) is None  # once
    with psycopg.connect(db[0]) as conn:
        rows = conn.execute(
            "SELECT event_type, object_id, state FROM webhook_deliveries"
        ).fetchall()
        assert conn.execute("SELECT count(*) FROM job_units").fetchone() == (0,)
    assert rows == [("extraction.job.completed", job.id, "queued")]


async def test_a_revoked_keys_work_is_not_run_and_its_jobs_are_cancelled(
    db: tuple[str, PostgresKeys], store: PostgresJobStore
) -> None:
    key = await db[1].create("alice")
    job = await _planned(store, key[:12], units=2)
    waiting = await store.create_job(_row(key[:12], "job_2"), [])
    assert await db[1].revoke("alice")
    now = time.time()
    assert await store.claim(now, lease_s=5, limit=10) == []
    assert await store.claim_planning(now, lease_s=5) is None
    closed = await store.close_inactive({"status": 403}, now)
    assert sorted(j.id for j in closed) == [job.id, waiting.id]
    assert {j.status for j in closed} == {"cancelled"}
    assert await store.close_inactive({"status": 403}, now) == []


async def test_an_idempotency_key_keeps_the_first_job_and_expiry_forgets(
    db: tuple[str, PostgresKeys], store: PostgresJobStore
) -> None:
    key = await db[1].create("alice")
    first = await store.create_job(_row(key[:12], "job_a", idempotency_key="k"), [])
    again = await store.create_job(_row(key[:12], "job_b", idempotency_key="k"), [])
    assert again.id == first.id == "job_a"
    assert await store.find_idempotent(key[:12], "k") is not None
    whole = await store.create_job(_row(key[:12], "job_c", mode="whole"), [UnitPlan("", 1)])
    listed, more = await store.list_jobs(key[:12], None, 1)
    assert [j.id for j in listed] == [whole.id] and more
    listed, more = await store.list_jobs(key[:12], whole.id, 10)
    assert [j.id for j in listed] == ["job_a"] and not more
    cancelled, ended = await store.cancel_job(key[:12], "job_a", {"status": 499}, time.time())
    assert ended and cancelled is not None and cancelled.status == "cancelled"
    gone = await store.take_expired(time.time() + 7200)
    assert sorted(j.id for j in gone) == ["job_a", "job_c"]
    assert await store.list_jobs(key[:12], None, 10) == ([], False)


def _jobs(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT args->>'unit_id', status::text FROM procrastinate_jobs"
            " WHERE queue_name=%s AND task_name=%s ORDER BY id",
            (QUEUE, UNIT_TASK),
        ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


async def test_planning_queues_one_procrastinate_job_per_unit(
    db: tuple[str, PostgresKeys], store: PostgresJobStore
) -> None:
    key = await db[1].create("alice")
    job = await _planned(store, key[:12], units=3)
    assert _jobs(db[0]) == [(f"{job.id}:{n}", "todo") for n in range(3)]  # planned once
    now = time.time()
    unit = await store.claim_unit(f"{job.id}:0", now, lease_s=5)
    assert unit is not None and unit.pages == "1-2"
    assert await store.claim_unit(f"{job.id}:0", now, lease_s=5) is None  # leased
    with psycopg.connect(db[0], autocommit=True) as conn:  # as if its job had been taken
        conn.execute("DELETE FROM procrastinate_jobs WHERE queueing_lock=%s", (unit.id,))
    await store.retry_later(unit, now + 30)
    with psycopg.connect(db[0]) as conn:  # deferred again, due at the unit's backoff
        [(due,)] = conn.execute(
            "SELECT extract(epoch FROM scheduled_at) FROM procrastinate_jobs"
            " WHERE queueing_lock=%s AND status='todo'",
            (unit.id,),
        ).fetchall()
    assert abs(float(due) - (now + 30)) < 0.01
    assert await store.claim_unit(unit.id, now + 1, lease_s=5) is None  # not yet due
    whole = await store.create_job(
        _row(key[:12], "job_whole", mode="whole", planned=True, pages_total=1),
        [UnitPlan("", 1)],
    )
    assert (f"{whole.id}:0", "todo") in _jobs(db[0])  # a whole-input job: queued at once
    assert await store.requeue_orphans(now) == 0  # every runnable unit has its job
    with psycopg.connect(db[0], autocommit=True) as conn:
        conn.execute("DELETE FROM procrastinate_jobs")
    assert await store.requeue_orphans(now) == 3  # units 1, 2 and the whole job's
    assert await store.requeue_orphans(now + 31) == 1  # unit 0, due now


async def test_a_dead_workers_unit_job_is_retried_and_its_unit_run_once(
    db: tuple[str, PostgresKeys], store: PostgresJobStore
) -> None:
    """A procrastinate worker that stopped sending heartbeats holds a unit's job:
    ``recover`` hands it back to the queue, and it runs the unit once its lease lapsed."""
    key = await db[1].create("alice")
    job = await _planned(store, key[:12], units=1)
    settings = Settings(keys_db=db[0], batch_lease_s=2)
    worker = QueuedJobWorker(store, cast(Any, None), settings, GatewayMetrics(), 2, None)
    ran: list[str] = []

    async def work(unit: JobUnit) -> None:
        ran.append(unit.id)
        assert await store.finish_unit(unit, "{}")

    worker._work = work  # type: ignore[method-assign]  # the engine is not the point here
    unit_id = f"{job.id}:0"
    async with worker.app.open_async():
        manager = worker.app.job_manager
        dead = await manager.register_worker()
        fetched = await manager.fetch_job(queues=[QUEUE], worker_id=dead)
        assert fetched is not None and fetched.task_kwargs == {"unit_id": unit_id}
        assert await store.claim_unit(unit_id, time.time(), lease_s=2) is not None
        assert await worker.recover() == (0, 0)  # its worker is alive
        with psycopg.connect(db[0], autocommit=True) as conn:
            conn.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"
            )
        assert await worker.recover() == (1, 0)
        assert _jobs(db[0]) == [(unit_id, "todo")]
        await worker.unit_job(unit_id)  # too early: the dead worker's lease holds
        assert ran == []
        await anyio.sleep(2.1)
        await worker.unit_job(unit_id)
        assert ran == [unit_id]
        await worker.unit_job(unit_id)  # done: a second run writes nothing
        assert ran == [unit_id]
    assert await store.unit_results(job.id) == [("1-2", "{}")]
