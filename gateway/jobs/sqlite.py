"""``SqliteJobStore``: the ``JobStore`` in the key store's SQLite file (migration 5).

The same claim loop as the Batch API's lines (`gateway.batch.sqlite`), on the same
connection helper: a worker leases units with one statement, ``UPDATE job_units SET
state='leased', token=?, lease_until=? WHERE id IN (SELECT …) RETURNING …``; a result is
written with ``WHERE id=? AND token=? AND state='leased'``, so only the current lease writes,
once; a lapsed lease is claimable again; the claim joins ``api_keys``, so a revoked key's
units are never taken.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..sqlitefile import SqliteBase
from ..webhooks.queue import enqueue_in
from .events import event_type
from .store import JobRow, JobStatus, JobUnit, UnitPlan

__all__ = ["SqliteJobStore"]

JOB_COLUMNS = (
    "id, owner, key_name, specs, multi, request, num_crops, source, mode, fingerprint, status,"
    " created_at, expires_at, webhook_url, idempotency_key, planned, page_count, pages_total,"
    " pages_done, result, error, completed_at"
)
ACTIVE = (
    "EXISTS (SELECT 1 FROM api_keys k WHERE k.prefix = j.owner AND k.revoked_at IS NULL"
    " AND (k.expires_at IS NULL OR k.expires_at > :now))"
)
UNFINISHED = "('queued', 'in_progress')"


def _job(row: Sequence[Any]) -> JobRow:
    v = list(row)
    v[3] = [tuple(s) for s in json.loads(v[3])]
    v[4] = bool(v[4])
    v[7] = json.loads(v[7])
    v[15] = bool(v[15])
    v[19] = json.loads(v[19]) if v[19] else None
    v[20] = json.loads(v[20]) if v[20] else None
    return JobRow(*v)


def _units(db: sqlite3.Connection, job_id: str, units: Sequence[UnitPlan], now: float) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO job_units (id, job_id, n, pages, count, state, queued_at)"
        " VALUES (?,?,?,?,?,'queued',?)",
        [(f"{job_id}:{n}", job_id, n, u.pages, u.count, now) for n, u in enumerate(units)],
    )


class SqliteJobStore(SqliteBase):
    """``JobStore`` on one SQLite file (WAL mode, shared with the key store)."""

    def _select(self, db: sqlite3.Connection, where: str, args: Any) -> JobRow | None:
        row = db.execute(f"SELECT {JOB_COLUMNS} FROM jobs j WHERE {where}", args).fetchone()
        return _job(row) if row else None

    async def create_job(self, row: JobRow, units: Sequence[UnitPlan]) -> JobRow:
        def create(db: sqlite3.Connection) -> JobRow:
            if row.idempotency_key is not None:
                first = self._select(
                    db, "owner=? AND idempotency_key=?", (row.owner, row.idempotency_key)
                )
                if first is not None:
                    return first
            db.execute(
                "INSERT INTO jobs (id, owner, key_name, specs, multi, request, num_crops,"
                " source, mode, fingerprint, status, created_at, expires_at, webhook_url,"
                " idempotency_key, planned, pages_total)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
            _units(db, row.id, units, row.created_at)
            return row

        return await self._tx(create)

    async def get_job(self, owner: str, job_id: str) -> JobRow | None:
        return await self._run(lambda db: self._select(db, "id=? AND owner=?", (job_id, owner)))

    async def find_idempotent(self, owner: str, key: str) -> JobRow | None:
        return await self._run(
            lambda db: self._select(db, "owner=? AND idempotency_key=?", (owner, key))
        )

    async def list_jobs(
        self, owner: str, after: str | None, limit: int
    ) -> tuple[list[JobRow], bool]:
        def query(db: sqlite3.Connection) -> list[Any]:
            if after is None:
                return db.execute(
                    f"SELECT {JOB_COLUMNS} FROM jobs WHERE owner=? ORDER BY seq DESC LIMIT ?",
                    (owner, limit + 1),
                ).fetchall()
            return db.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE owner=? AND seq <"
                " (SELECT seq FROM jobs WHERE id=? AND owner=?) ORDER BY seq DESC LIMIT ?",
                (owner, after, owner, limit + 1),
            ).fetchall()

        rows = await self._run(query)
        return [_job(r) for r in rows[:limit]], len(rows) > limit

    async def cancel_job(
        self, owner: str, job_id: str, error: dict[str, Any], now: float
    ) -> tuple[JobRow | None, bool]:
        def cancel(db: sqlite3.Connection) -> tuple[JobRow | None, bool]:
            ended = db.execute(
                "UPDATE jobs SET status='cancelled', error=?, completed_at=?, lease_until=NULL"
                f" WHERE id=? AND owner=? AND status IN {UNFINISHED}",
                (json.dumps(error), now, job_id, owner),
            ).rowcount
            if ended:
                db.execute("DELETE FROM job_units WHERE job_id=?", (job_id,))
            job = self._select(db, "id=? AND owner=?", (job_id, owner))
            if ended and job is not None:
                _announce(db, job, now)
            return job, bool(ended)

        return await self._tx(cancel)

    # --- planning -----------------------------------------------------------------------
    async def claim_planning(self, now: float, lease_s: float) -> JobRow | None:
        def claim(db: sqlite3.Connection) -> JobRow | None:
            rows = db.execute(
                "UPDATE jobs SET status='in_progress', lease_until=:until WHERE id = ("
                f"SELECT j.id FROM jobs j WHERE j.status IN {UNFINISHED} AND j.planned=0"
                " AND (j.lease_until IS NULL OR j.lease_until < :now) AND " + ACTIVE + " ORDER BY"
                " j.seq LIMIT 1) RETURNING id",
                {"now": now, "until": now + lease_s},
            ).fetchall()
            return self._select(db, "id=?", (rows[0][0],)) if rows else None

        return await self._tx(claim)

    async def plan(
        self, job_id: str, page_count: int, units: Sequence[UnitPlan], now: float
    ) -> None:
        def plan(db: sqlite3.Connection) -> None:
            fresh = db.execute(
                "UPDATE jobs SET planned=1, page_count=?, pages_total=?, lease_until=NULL"
                f" WHERE id=? AND planned=0 AND status IN {UNFINISHED}",
                (page_count, sum(u.count for u in units), job_id),
            ).rowcount
            if fresh:
                _units(db, job_id, units, now)

        await self._tx(plan)

    # --- the queue ----------------------------------------------------------------------
    async def claim(self, now: float, lease_s: float, limit: int) -> list[JobUnit]:
        token = secrets.token_hex(8)

        def claim(db: sqlite3.Connection) -> list[Any]:
            rows = db.execute(
                "UPDATE job_units SET state='leased', token=:token, lease_until=:until"
                " WHERE id IN (SELECT u.id FROM job_units u JOIN jobs j ON j.id=u.job_id"
                f" WHERE j.status IN {UNFINISHED} AND j.planned=1 AND " + ACTIVE + " AND"
                " ((u.state='queued' AND u.not_before <= :now)"
                " OR (u.state='leased' AND u.lease_until < :now))"
                " ORDER BY u.queued_at, u.n LIMIT :limit)"
                " RETURNING id, job_id, n, pages, count, retries",
                {"token": token, "until": now + lease_s, "now": now, "limit": limit},
            ).fetchall()
            out = []
            for unit_id, job_id, n, pages, count, retries in rows:
                db.execute(
                    "UPDATE jobs SET status='in_progress' WHERE id=? AND status='queued'",
                    (job_id,),
                )
                owner, key_name, max_concurrent = db.execute(
                    "SELECT j.owner, j.key_name, k.max_concurrent FROM jobs j"
                    " LEFT JOIN api_keys k ON k.prefix=j.owner WHERE j.id=?",
                    (job_id,),
                ).fetchone()
                out.append(
                    JobUnit(
                        unit_id,
                        job_id,
                        n,
                        pages,
                        count,
                        retries,
                        token,
                        owner,
                        key_name,
                        max_concurrent,
                    )
                )
            return out

        return await self._tx(claim)

    async def renew(self, units: Sequence[JobUnit], until: float) -> None:
        await self._run(
            lambda db: db.executemany(
                "UPDATE job_units SET lease_until=? WHERE id=? AND token=? AND state='leased'",
                ((until, u.id, u.token) for u in units),
            )
        )

    async def finish_unit(self, unit: JobUnit, result: str) -> bool:
        def finish(db: sqlite3.Connection) -> bool:
            done = db.execute(
                "UPDATE job_units SET state='done', result=?, lease_until=NULL"
                " WHERE id=? AND token=? AND state='leased'",
                (result, unit.id, unit.token),
            ).rowcount
            if done:
                db.execute(
                    "UPDATE jobs SET pages_done=pages_done+? WHERE id=?", (unit.count, unit.job_id)
                )
            return bool(done)

        return await self._tx(finish)

    async def retry_later(self, unit: JobUnit, not_before: float) -> None:
        await self._run(
            lambda db: db.execute(
                "UPDATE job_units SET state='queued', token=NULL, lease_until=NULL,"
                " not_before=?, retries=retries+1 WHERE id=? AND token=? AND state='leased'",
                (not_before, unit.id, unit.token),
            )
        )

    async def queue_stats(self, now: float) -> tuple[int, float]:
        row = await self._run(
            lambda db: db.execute(
                "SELECT coalesce(sum(count), 0), min(CASE WHEN state='queued' THEN queued_at END)"
                " FROM job_units WHERE state IN ('queued', 'leased')"
            ).fetchone()
        )
        depth, oldest = row
        return int(depth), (max(0.0, now - oldest) if oldest is not None else 0.0)

    # --- the end of a job ---------------------------------------------------------------
    async def claim_finishing(self, now: float, lease_s: float) -> list[JobRow]:
        def claim(db: sqlite3.Connection) -> list[JobRow]:
            rows = db.execute(
                "UPDATE jobs SET lease_until=:until WHERE id IN (SELECT j.id FROM jobs j WHERE"
                f" j.status IN {UNFINISHED} AND j.planned=1"
                " AND (j.lease_until IS NULL OR j.lease_until < :now)"
                " AND NOT EXISTS (SELECT 1 FROM job_units u WHERE u.job_id=j.id"
                " AND u.state != 'done')) RETURNING id",
                {"now": now, "until": now + lease_s},
            ).fetchall()
            found = [self._select(db, "id=?", (r[0],)) for r in rows]
            return [j for j in found if j is not None]

        return await self._tx(claim)

    async def keep_lease(self, job_id: str, until: float) -> None:
        await self._run(
            lambda db: db.execute(
                f"UPDATE jobs SET lease_until=? WHERE id=? AND status IN {UNFINISHED}",
                (until, job_id),
            )
        )

    async def unit_results(self, job_id: str) -> list[tuple[str, str]]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT pages, result FROM job_units WHERE job_id=? AND state='done' ORDER BY n",
                (job_id,),
            ).fetchall()
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
        def end(db: sqlite3.Connection) -> JobRow | None:
            ended = db.execute(
                "UPDATE jobs SET status=?, result=?, error=?, completed_at=?, lease_until=NULL"
                f" WHERE id=? AND status IN {UNFINISHED}",
                (
                    status,
                    json.dumps(result) if result is not None else None,
                    json.dumps(error) if error is not None else None,
                    now,
                    job_id,
                ),
            ).rowcount
            db.execute("DELETE FROM job_units WHERE job_id=?", (job_id,))
            job = self._select(db, "id=?", (job_id,)) if ended else None
            if job is not None:
                _announce(db, job, now)
            return job

        return await self._tx(end)

    async def close_inactive(self, error: dict[str, Any], now: float) -> list[JobRow]:
        def close(db: sqlite3.Connection) -> list[JobRow]:
            rows = db.execute(
                "UPDATE jobs SET status='cancelled', error=:error, completed_at=:now,"
                " lease_until=NULL WHERE id IN (SELECT j.id FROM jobs j WHERE"
                f" j.status IN {UNFINISHED} AND NOT " + ACTIVE + ") RETURNING id",
                {"now": now, "error": json.dumps(error)},
            ).fetchall()
            ended = []
            for (job_id,) in rows:
                db.execute("DELETE FROM job_units WHERE job_id=?", (job_id,))
                job = self._select(db, "id=?", (job_id,))
                if job is not None:
                    _announce(db, job, now)
                    ended.append(job)
            return ended

        return await self._tx(close)

    async def take_expired(self, now: float) -> list[JobRow]:
        def take(db: sqlite3.Connection) -> list[JobRow]:
            rows = db.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs j WHERE expires_at <= ?", (now,)
            ).fetchall()
            jobs = [_job(r) for r in rows]
            for job in jobs:
                db.execute("DELETE FROM job_units WHERE job_id=?", (job.id,))
                db.execute("DELETE FROM jobs WHERE id=?", (job.id,))
            return jobs

        return await self._tx(take)


def _announce(db: sqlite3.Connection, job: JobRow, now: float) -> None:
    """Queue the job's ``extraction.job.<status>`` webhook in the transaction that ends it,
    so that a crash cannot end a job without its event (the delivery loop sends it)."""
    if job.webhook_url:
        enqueue_in(
            db,
            owner=job.owner,
            url=job.webhook_url,
            event_type=event_type(job),
            object_id=job.id,
            now=now,
        )
