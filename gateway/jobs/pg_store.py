"""``PostgresJobStore``: the ``JobStore`` in the PostgreSQL key database, for several gateway
replicas (PostgreSQL migration 5, on the Batch API's pool helper ``batch.pg_base``).

The same rules as ``SqliteJobStore``, and the shape of the Batch API's line queue
(``batch.pg_queue``): every statement that makes units runnable (a job planned, or submitted
whole; a unit given back for a retry) defers, in the same transaction, one procrastinate job
per unit (``UNIT_TASK`` on ``QUEUE``, ``{"unit_id": …}``, the unit id as its lock and
queueing lock; ``batch.pg_dispatch``), so any replica's worker runs a job's page ranges
(``pg_worker.QueuedJobWorker``). The job leases its unit with ``claim_unit`` (``FOR UPDATE
SKIP LOCKED``, a fresh token, ``lease_until``); a result is written with ``WHERE id=%s AND
token=%s AND state='leased'``: only the lease that ran it writes, once. A replica killed
mid-unit leaves its lease; its procrastinate job is retried as stalled, and
``requeue_orphans`` defers a job for a runnable unit left without one. Planning and
finishing are leased on the job row with ``FOR UPDATE SKIP LOCKED`` by every replica's
housekeeping.

A job's end (``end_job``, ``cancel_job``, ``close_inactive``) queues its webhook in the same
transaction (``webhooks.queue.enqueue_in_pg``)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from ..batch.pg_base import Conn, PostgresBase
from ..batch.pg_dispatch import defer_orphans, defer_sql, unqueued
from ..webhooks.queue import enqueue_in_pg
from .events import event_type
from .sqlite import JOB_COLUMNS, UNFINISHED
from .sqlite import _job as job_row
from .store import JobRow, JobStatus, JobUnit, UnitPlan

__all__ = ["QUEUE", "UNIT_TASK", "PostgresJobStore"]

QUEUE = "gateway_jobs"
"""procrastinate queue of the extraction jobs' units."""
UNIT_TASK = "gateway.jobs.unit"
"""procrastinate task name of one unit's job (`pg_worker`)."""
_REQUEUE_LOCK = 0x76736A71
"""pg_try_advisory_xact_lock key of ``requeue_orphans`` ("vsjq")."""

_ACTIVE = (
    "EXISTS (SELECT 1 FROM api_keys k WHERE k.prefix = j.owner AND k.revoked_at IS NULL"
    " AND (k.expires_at IS NULL OR k.expires_at > to_timestamp(%(now)s)))"
)
"""The job ``j``'s key may still run work (key times are timestamptz on PostgreSQL)."""
_RUNNABLE = (
    f"j.status IN {UNFINISHED} AND j.planned=1 AND " + _ACTIVE + " AND"
    " ((u.state='queued' AND u.not_before <= %(now)s)"
    " OR (u.state='leased' AND u.lease_until < %(now)s))"
)
"""The unit ``u`` of job ``j`` may be leased now."""


def _defer(where: str) -> str:
    """SQL deferring one unit job per ``job_units u`` row matching ``where``, in page order
    (``batch.pg_dispatch.defer_sql``)."""
    return defer_sql(QUEUE, UNIT_TASK, "job_units", "u", "unit_id", where, "u.job_id, u.n")


async def _dispatch(conn: Conn, where: str, args: dict[str, Any]) -> None:
    await conn.execute(_defer(where).encode(), {"due": None, **args})


async def _units(conn: Conn, job_id: str, units: Sequence[UnitPlan], now: float) -> None:
    async with conn.cursor() as many:
        await many.executemany(
            "INSERT INTO job_units (id, job_id, n, pages, count, state, queued_at)"
            " VALUES (%s,%s,%s,%s,%s,'queued',%s) ON CONFLICT (id) DO NOTHING",
            [(f"{job_id}:{n}", job_id, n, u.pages, u.count, now) for n, u in enumerate(units)],
        )


async def _select(conn: Conn, where: str, args: Any) -> JobRow | None:
    cur = await conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs j WHERE {where}".encode(), args)
    row = await cur.fetchone()
    return job_row(row) if row else None


async def _announce(conn: Conn, job: JobRow, now: float) -> None:
    """Queue the job's ``extraction.job.<status>`` webhook in the transaction that ends it."""
    if job.webhook_url:
        await enqueue_in_pg(
            conn,
            owner=job.owner,
            url=job.webhook_url,
            event_type=event_type(job),
            object_id=job.id,
            now=now,
        )


class PostgresJobStore(PostgresBase):
    """``JobStore`` on PostgreSQL (see the module docstring)."""

    async def create_job(self, row: JobRow, units: Sequence[UnitPlan]) -> JobRow:
        async def create(conn: Conn) -> JobRow:
            cur = await conn.execute(
                "INSERT INTO jobs (id, owner, key_name, specs, multi, request, num_crops,"
                " source, mode, fingerprint, status, created_at, expires_at, webhook_url,"
                " idempotency_key, planned, pages_total)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT DO NOTHING",
                (
                    row.id,
                    row.owner,
                    row.key_name,
                    json.dumps(row.specs),
                    int(row.multi),
                    row.request,
                    row.num_crops,
                    json.dumps(row.source),
                    row.mode,
                    row.fingerprint,
                    row.status,
                    row.created_at,
                    row.expires_at,
                    row.webhook_url,
                    row.idempotency_key,
                    int(row.planned),
                    row.pages_total,
                ),
            )
            if not cur.rowcount:
                # The owner used this Idempotency-Key already (perhaps on another replica a
                # moment ago: the unique index decides): that first job is the answer.
                first = await _select(
                    conn, "owner=%s AND idempotency_key=%s", (row.owner, row.idempotency_key)
                )
                if first is None:
                    raise RuntimeError("job id collision")
                return first
            await _units(conn, row.id, units, row.created_at)
            if units:
                await _dispatch(conn, "u.job_id=%(job)s", {"job": row.id})
            return row

        return await self._tx(create)

    async def get_job(self, owner: str, job_id: str) -> JobRow | None:
        return await self._run(lambda c: _select(c, "id=%s AND owner=%s", (job_id, owner)))

    async def find_idempotent(self, owner: str, key: str) -> JobRow | None:
        return await self._run(
            lambda c: _select(c, "owner=%s AND idempotency_key=%s", (owner, key))
        )

    async def list_jobs(
        self, owner: str, after: str | None, limit: int
    ) -> tuple[list[JobRow], bool]:
        if after is None:
            rows = await self._all(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE owner=%s ORDER BY seq DESC LIMIT %s",
                (owner, limit + 1),
            )
        else:
            rows = await self._all(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE owner=%s AND seq <"
                " (SELECT seq FROM jobs WHERE id=%s AND owner=%s) ORDER BY seq DESC LIMIT %s",
                (owner, after, owner, limit + 1),
            )
        return [job_row(r) for r in rows[:limit]], len(rows) > limit

    async def cancel_job(
        self, owner: str, job_id: str, error: dict[str, Any], now: float
    ) -> tuple[JobRow | None, bool]:
        async def cancel(conn: Conn) -> tuple[JobRow | None, bool]:
            cur = await conn.execute(
                "UPDATE jobs SET status='cancelled', error=%s, completed_at=%s,"
                f" lease_until=NULL WHERE id=%s AND owner=%s AND status IN {UNFINISHED}".encode(),
                (json.dumps(error), now, job_id, owner),
            )
            ended = bool(cur.rowcount)
            if ended:
                await conn.execute("DELETE FROM job_units WHERE job_id=%s", (job_id,))
            job = await _select(conn, "id=%s AND owner=%s", (job_id, owner))
            if ended and job is not None:
                await _announce(conn, job, now)
            return job, ended

        return await self._tx(cancel)

    # --- planning -----------------------------------------------------------------------
    async def claim_planning(self, now: float, lease_s: float) -> JobRow | None:
        row = await self._one(
            "UPDATE jobs SET status='in_progress', lease_until=%(until)s WHERE id = ("
            f"SELECT j.id FROM jobs j WHERE j.status IN {UNFINISHED} AND j.planned=0"
            " AND (j.lease_until IS NULL OR j.lease_until < %(now)s) AND " + _ACTIVE + ""
            f" ORDER BY j.seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING {JOB_COLUMNS}",
            {"now": now, "until": now + lease_s},
        )
        return job_row(row) if row else None

    async def plan(
        self, job_id: str, page_count: int, units: Sequence[UnitPlan], now: float
    ) -> None:
        async def plan(conn: Conn) -> None:
            cur = await conn.execute(
                "UPDATE jobs SET planned=1, page_count=%s, pages_total=%s, lease_until=NULL"
                f" WHERE id=%s AND planned=0 AND status IN {UNFINISHED}".encode(),
                (page_count, sum(u.count for u in units), job_id),
            )
            if cur.rowcount:
                await _units(conn, job_id, units, now)
                await _dispatch(conn, "u.job_id=%(job)s", {"job": job_id})

        await self._tx(plan)

    # --- the queue ----------------------------------------------------------------------
    async def claim(self, now: float, lease_s: float, limit: int) -> list[JobUnit]:
        """Lease up to ``limit`` runnable units (the protocol's claim; the replicas' workers
        take units one by one through their jobs, ``claim_unit``)."""
        return await self._claim("TRUE", now, lease_s, limit, {})

    async def claim_unit(self, unit_id: str, now: float, lease_s: float) -> JobUnit | None:
        """Lease this unit if it is runnable (not done, not leased by a live lease, its job
        planned and running, its key active); None otherwise."""
        units = await self._claim("u.id = %(unit)s", now, lease_s, 1, {"unit": unit_id})
        return units[0] if units else None

    async def _claim(
        self, where: str, now: float, lease_s: float, limit: int, extra: dict[str, Any]
    ) -> list[JobUnit]:
        token = secrets.token_hex(8)

        async def claim(conn: Conn) -> list[JobUnit]:
            cur = await conn.execute(
                "UPDATE job_units u SET state='leased', token=%(token)s, lease_until=%(until)s"
                " FROM jobs j WHERE j.id=u.job_id AND u.id IN (SELECT u.id FROM job_units u"
                f" JOIN jobs j ON j.id=u.job_id WHERE {where} AND {_RUNNABLE}"
                " ORDER BY u.queued_at, u.job_id, u.n LIMIT %(limit)s FOR UPDATE OF u SKIP LOCKED)"
                " RETURNING u.id, u.job_id, u.n, u.pages, u.count, u.retries, j.owner,"
                " j.key_name, (SELECT k.max_concurrent FROM api_keys k WHERE k.prefix=j.owner)",
                {"token": token, "until": now + lease_s, "now": now, "limit": limit, **extra},
            )
            rows = await cur.fetchall()
            if rows:
                await conn.execute(
                    "UPDATE jobs SET status='in_progress' WHERE id = ANY(%s) AND status='queued'",
                    (sorted({r[1] for r in rows}),),
                )
            return [
                JobUnit(u, job, n, pages, count, retries, token, owner, key_name, cap)
                for u, job, n, pages, count, retries, owner, key_name, cap in rows
            ]

        return await self._tx(claim)

    async def requeue_orphans(self, now: float) -> int:
        """Defer a job for every runnable unit that has none queued or running (a job
        retried as stalled before its dead worker's unit lease lapsed); how many. One
        replica at a time (an advisory lock)."""
        where = (
            "u.id IN (SELECT u.id FROM job_units u JOIN jobs j ON j.id=u.job_id"
            f" WHERE {_RUNNABLE} AND {unqueued('u')})"
        )

        async def requeue(conn: Conn) -> int:
            return await defer_orphans(
                conn, _REQUEUE_LOCK, _defer(where), {"now": now, "due": None}
            )

        return await self._tx(requeue)

    async def renew(self, units: Sequence[JobUnit], until: float) -> None:
        async with self._conn() as conn, conn.cursor() as cur:
            await cur.executemany(
                "UPDATE job_units SET lease_until=%s WHERE id=%s AND token=%s AND state='leased'",
                [(until, u.id, u.token) for u in units],
            )

    async def finish_unit(self, unit: JobUnit, result: str) -> bool:
        async def finish(conn: Conn) -> bool:
            cur = await conn.execute(
                "UPDATE job_units SET state='done', result=%s, lease_until=NULL"
                " WHERE id=%s AND token=%s AND state='leased'",
                (result, unit.id, unit.token),
            )
            if cur.rowcount:
                await conn.execute(
                    "UPDATE jobs SET pages_done=pages_done+%s WHERE id=%s",
                    (unit.count, unit.job_id),
                )
            return bool(cur.rowcount)

        return await self._tx(finish)

    async def retry_later(self, unit: JobUnit, not_before: float) -> None:
        async def retry(conn: Conn) -> None:
            cur = await conn.execute(
                "UPDATE job_units SET state='queued', token=NULL, lease_until=NULL,"
                " not_before=%s, retries=retries+1 WHERE id=%s AND token=%s AND state='leased'",
                (not_before, unit.id, unit.token),
            )
            if cur.rowcount:
                await conn.execute(
                    _defer("u.id=%(unit)s").encode(), {"unit": unit.id, "due": not_before}
                )

        await self._tx(retry)

    async def queue_stats(self, now: float) -> tuple[int, float]:
        row: Any = await self._one(
            "SELECT coalesce(sum(count), 0), min(CASE WHEN state='queued' THEN queued_at END)"
            " FROM job_units WHERE state IN ('queued', 'leased')"
        )
        depth, oldest = row if row else (0, None)
        return int(depth), (max(0.0, now - oldest) if oldest is not None else 0.0)

    # --- the end of a job ---------------------------------------------------------------
    async def claim_finishing(self, now: float, lease_s: float) -> list[JobRow]:
        rows = await self._all(
            "UPDATE jobs SET lease_until=%(until)s WHERE id IN (SELECT j.id FROM jobs j WHERE"
            f" j.status IN {UNFINISHED} AND j.planned=1"
            " AND (j.lease_until IS NULL OR j.lease_until < %(now)s)"
            " AND NOT EXISTS (SELECT 1 FROM job_units u WHERE u.job_id=j.id"
            f" AND u.state != 'done') FOR UPDATE SKIP LOCKED) RETURNING {JOB_COLUMNS}",
            {"now": now, "until": now + lease_s},
        )
        return [job_row(r) for r in rows]

    async def keep_lease(self, job_id: str, until: float) -> None:
        await self._exec(
            f"UPDATE jobs SET lease_until=%s WHERE id=%s AND status IN {UNFINISHED}",
            (until, job_id),
        )

    async def unit_results(self, job_id: str) -> list[tuple[str, str]]:
        rows = await self._all(
            "SELECT pages, result FROM job_units WHERE job_id=%s AND state='done' ORDER BY n",
            (job_id,),
        )
        return [(str(p), str(r)) for p, r in rows]

    async def end_job(
        self,
        job_id: str,
        status: JobStatus,
        result: dict[str, Any] | None,
        error: dict[str, Any] | None,
        now: float,
    ) -> JobRow | None:
        async def end(conn: Conn) -> JobRow | None:
            cur = await conn.execute(
                "UPDATE jobs SET status=%s, result=%s, error=%s, completed_at=%s,"
                f" lease_until=NULL WHERE id=%s AND status IN {UNFINISHED}"
                f" RETURNING {JOB_COLUMNS}".encode(),
                (
                    status,
                    json.dumps(result) if result is not None else None,
                    json.dumps(error) if error is not None else None,
                    now,
                    job_id,
                ),
            )
            row = await cur.fetchone()
            await conn.execute("DELETE FROM job_units WHERE job_id=%s", (job_id,))
            job = job_row(row) if row else None
            if job is not None:
                await _announce(conn, job, now)
            return job

        return await self._tx(end)

    async def close_inactive(self, error: dict[str, Any], now: float) -> list[JobRow]:
        async def close(conn: Conn) -> list[JobRow]:
            cur = await conn.execute(
                "UPDATE jobs SET status='cancelled', error=%(error)s, completed_at=%(now)s,"
                " lease_until=NULL WHERE id IN (SELECT j.id FROM jobs j WHERE"
                f" j.status IN {UNFINISHED} AND NOT " + _ACTIVE + " FOR UPDATE SKIP LOCKED)"
                f" RETURNING {JOB_COLUMNS}",
                {"now": now, "error": json.dumps(error)},
            )
            ended = [job_row(r) for r in await cur.fetchall()]
            for job in ended:
                await conn.execute("DELETE FROM job_units WHERE job_id=%s", (job.id,))
                await _announce(conn, job, now)
            return ended

        return await self._tx(close)

    async def take_expired(self, now: float) -> list[JobRow]:
        async def take(conn: Conn) -> list[JobRow]:
            cur = await conn.execute(
                f"DELETE FROM jobs WHERE expires_at <= %s RETURNING {JOB_COLUMNS}".encode(),
                (now,),
            )
            jobs = [job_row(r) for r in await cur.fetchall()]
            if jobs:
                await conn.execute(
                    "DELETE FROM job_units WHERE job_id = ANY(%s)", ([j.id for j in jobs],)
                )
            return jobs

        return await self._tx(take)
