"""All SQL of the job queue: the ``job`` table is the queue, claimed under a lease.

Claiming is one statement, ``UPDATE job ... WHERE id = (SELECT id ... LIMIT 1) RETURNING``:
on PostgreSQL the inner select carries ``FOR UPDATE SKIP LOCKED`` so concurrent workers take
different rows without waiting; on SQLite the caller's write transaction (``BEGIN IMMEDIATE``)
already serialises writers. Every write that ends or changes a running attempt is fenced by
``(worker_id, attempts)``: a worker whose lease expired and whose job was taken over cannot
overwrite the newer attempt. Every change a subscriber can see bumps ``revision``.

Times are UTC and supplied by the caller, so tests can move the clock.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sliceboard.storage.tables import Job

QUEUED = "QUEUED"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
TERMINAL_STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED})


@dataclass(frozen=True)
class Attempt:
    """Which run of a job a worker holds; the fence for its later writes."""

    job_id: int
    worker_id: str
    attempt: int


def _bump() -> dict[str, Any]:
    return {"revision": col(Job.revision) + 1}


def _owned(attempt: Attempt) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(Job.id) == attempt.job_id,
        col(Job.status) == RUNNING,
        col(Job.worker_id) == attempt.worker_id,
        col(Job.attempts) == attempt.attempt,
    )


async def insert_job(
    *,
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None,
    model_run_id: int | None,
    max_attempts: int,
    now: datetime,
) -> Job:
    job = Job(
        kind=kind,
        payload=payload,
        model_run_id=model_run_id,
        max_attempts=max_attempts,
        run_after=now,
        created_at=now,
    )
    session.add(job)
    await session.flush()
    return job


async def select_job(*, session: AsyncSession, job_id: int) -> Job | None:
    result = await session.execute(
        sa.select(Job).where(col(Job.id) == job_id).execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def select_jobs_for_run(*, session: AsyncSession, model_run_id: int) -> list[Job]:
    """A run's jobs, newest first."""
    result = await session.execute(
        sa.select(Job).where(col(Job.model_run_id) == model_run_id).order_by(col(Job.id).desc())
    )
    return list(result.scalars().all())


async def count_queued_jobs(*, session: AsyncSession, model_run_id: int, kind: str) -> int:
    """How many of a run's jobs of ``kind`` wait in the queue (retries waiting included)."""
    statement = sa.select(sa.func.count()).where(
        col(Job.model_run_id) == model_run_id, col(Job.kind) == kind, col(Job.status) == QUEUED
    )
    return int((await session.execute(statement)).scalar_one())


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(col(Job.status) == QUEUED, col(Job.run_after) <= now),
        sa.and_(
            col(Job.status) == RUNNING,
            col(Job.lease_until) < now,
            col(Job.attempts) < col(Job.max_attempts),
            sa.not_(col(Job.cancel_requested)),
        ),
    )


async def has_claimable(*, session: AsyncSession, kinds: Collection[str], now: datetime) -> bool:
    """Whether a claim or :func:`settle_lost_jobs` has anything to do - a read, so an idle
    runner does not take SQLite's write lock on every poll."""
    if not kinds:
        return False
    expired = sa.and_(col(Job.status) == RUNNING, col(Job.lease_until) < now)
    queued = sa.and_(_claimable(now), col(Job.kind).in_(sorted(kinds)))
    statement = sa.select(sa.literal(1)).where(sa.or_(queued, expired)).limit(1)
    return (await session.execute(statement)).first() is not None


async def claim_job(
    *,
    session: AsyncSession,
    worker_id: str,
    kinds: Collection[str],
    now: datetime,
    lease_seconds: float,
) -> Job | None:
    """Take the oldest runnable job of ``kinds``: a queued one whose ``run_after`` has come, or a
    running one whose lease expired (its worker died) with attempts left. FIFO by id.

    The attempt starts from progress 0 and no message: what an earlier attempt reported is not
    this attempt's."""
    if not kinds:
        return None
    runnable = _claimable(now)
    oldest = (
        sa.select(col(Job.id))
        .where(runnable, col(Job.kind).in_(sorted(kinds)))
        .order_by(col(Job.id))
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        sa.update(Job)
        .where(col(Job.id) == oldest)
        .values(
            status=RUNNING,
            worker_id=worker_id,
            attempts=col(Job.attempts) + 1,
            lease_until=now + timedelta(seconds=lease_seconds),
            heartbeat_at=now,
            started_at=now,
            finished_at=None,
            progress=0.0,
            message=None,
            rows_done=None,
            rows_total=None,
            result=None,
            issues=None,
            **_bump(),
        )
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def settle_lost_jobs(*, session: AsyncSession, now: datetime) -> list[int]:
    """End running jobs whose worker vanished and that must not run again: those asked to
    cancel become CANCELLED, those with no attempts left become FAILED. Returns their ids.

    Rows another transaction has locked are skipped (on PostgreSQL), so two runners settling
    at once never wait on each other; the next poll catches what was skipped.
    """
    expired = sa.and_(col(Job.status) == RUNNING, col(Job.lease_until) < now)

    def unlocked(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
        ids = sa.select(col(Job.id)).where(expired, condition).with_for_update(skip_locked=True)
        return col(Job.id).in_(ids.scalar_subquery())

    cancelled = (
        sa.update(Job)
        .where(unlocked(col(Job.cancel_requested) == sa.true()))
        .values(status=CANCELLED, worker_id=None, lease_until=None, finished_at=now, **_bump())
        .returning(col(Job.id))
        .execution_options(synchronize_session=False)
    )
    ids: list[int] = [row_id for row_id in (await session.execute(cancelled)).scalars() if row_id]
    exhausted = (
        sa.update(Job)
        .where(unlocked(col(Job.attempts) >= col(Job.max_attempts)))
        .values(
            status=FAILED,
            error=sa.literal("worker lost: lease expired during attempt ", sa.String)
            + sa.cast(col(Job.attempts), sa.String)
            + sa.literal(" of ", sa.String)
            + sa.cast(col(Job.max_attempts), sa.String),
            worker_id=None,
            lease_until=None,
            finished_at=now,
            **_bump(),
        )
        .returning(col(Job.id))
        .execution_options(synchronize_session=False)
    )
    ids.extend(row_id for row_id in (await session.execute(exhausted)).scalars() if row_id)
    return ids


async def renew_lease(
    *, session: AsyncSession, attempt: Attempt, now: datetime, lease_seconds: float
) -> bool | None:
    """Extend the lease. None: the attempt is no longer ours (taken over, cancelled while
    expired, deleted); otherwise whether cancellation was requested."""
    statement = (
        sa.update(Job)
        .where(_owned(attempt))
        .values(lease_until=now + timedelta(seconds=lease_seconds), heartbeat_at=now)
        .returning(col(Job.cancel_requested))
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else bool(row[0])


async def update_progress(
    *,
    session: AsyncSession,
    attempt: Attempt,
    progress: float,
    message: str | None,
    rows: tuple[int, int | None] | None = None,
) -> bool | None:
    """Record progress (and ``rows``: rows done, rows total). Same answer as :func:`renew_lease`."""
    values: dict[str, Any] = {"progress": progress, "message": message}
    if rows is not None:
        values["rows_done"], values["rows_total"] = rows
    statement = (
        sa.update(Job)
        .where(_owned(attempt))
        .values(**values, **_bump())
        .returning(col(Job.cancel_requested))
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else bool(row[0])


async def select_cancel_requested(*, session: AsyncSession, attempt: Attempt) -> bool | None:
    """Whether cancellation was requested; None when the attempt is no longer ours."""
    statement = sa.select(col(Job.cancel_requested)).where(_owned(attempt))
    row = (await session.execute(statement)).first()
    return None if row is None else bool(row[0])


async def finish_job(
    *,
    session: AsyncSession,
    attempt: Attempt,
    status: str,
    now: datetime,
    error: str | None = None,
    progress: float | None = None,
    message: str | None = None,
) -> bool:
    """End the attempt with a terminal status and its final ``message`` (the last one its
    handler reported); False when it was no longer ours."""
    if status not in TERMINAL_STATUSES:
        raise ValueError(f"not a terminal status: {status}")
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "message": message,
        "worker_id": None,
        "lease_until": None,
        "finished_at": now,
        **_bump(),
    }
    if progress is not None:
        values["progress"] = progress
    return await _update_owned(session, attempt, values)


async def requeue_job(
    *,
    session: AsyncSession,
    attempt: Attempt,
    run_after: datetime,
    error: str | None,
    refund_attempt: bool = False,
) -> bool:
    """Put the job back in the queue (a retry, or a worker shutting down mid-run).

    ``refund_attempt`` gives back the attempt, for an interruption that was not the job's fault.
    """
    values: dict[str, Any] = {
        "status": QUEUED,
        "worker_id": None,
        "lease_until": None,
        "run_after": run_after,
        **_bump(),
    }
    if error is not None:
        values["error"] = error
    if refund_attempt:
        values["attempts"] = col(Job.attempts) - 1
    return await _update_owned(session, attempt, values)


async def _update_owned(session: AsyncSession, attempt: Attempt, values: dict[str, Any]) -> bool:
    statement = (
        sa.update(Job)
        .where(_owned(attempt))
        .values(**values)
        .returning(col(Job.id))
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).first() is not None


async def record_outcome(
    *,
    session: AsyncSession,
    attempt: Attempt,
    result: dict[str, Any] | None,
    issues: list[str] | None,
    download_token: str | None = None,
    rows: tuple[int, int | None] | None = None,
) -> bool:
    """A file job's outcome (counts or a download, or the issues that failed it), written by
    its handler before it ends; False when the attempt is no longer ours."""
    values: dict[str, Any] = {"result": result, "issues": issues, **_bump()}
    if rows is not None:
        values["rows_done"], values["rows_total"] = rows
    if download_token is not None:
        values["download_token"] = download_token
    return await _update_owned(session, attempt, values)


async def select_job_by_download_token(*, session: AsyncSession, token: str) -> Job | None:
    result = await session.execute(sa.select(Job).where(col(Job.download_token) == token))
    return result.scalar_one_or_none()


async def select_expired_downloads(
    *, session: AsyncSession, finished_before: datetime
) -> list[str]:
    """Download tokens of export jobs that finished before ``finished_before``."""
    statement = sa.select(col(Job.download_token)).where(
        col(Job.download_token).is_not(None), col(Job.finished_at) < finished_before
    )
    return [token for token in (await session.execute(statement)).scalars() if token]


async def request_cancel(*, session: AsyncSession, job_id: int, now: datetime) -> Job | None:
    """Cancel a queued job at once; flag a running one for its handler. Terminal jobs are
    left as they are. None when there is no such job."""
    queued = (
        sa.update(Job)
        .where(col(Job.id) == job_id, col(Job.status) == QUEUED)
        .values(status=CANCELLED, cancel_requested=True, finished_at=now, **_bump())
    )
    running = (
        sa.update(Job)
        .where(
            col(Job.id) == job_id, col(Job.status) == RUNNING, sa.not_(col(Job.cancel_requested))
        )
        .values(cancel_requested=True, **_bump())
    )
    for statement in (queued, running):
        await session.execute(statement.execution_options(synchronize_session=False))
    return await select_job(session=session, job_id=job_id)


async def count_open_jobs(*, session: AsyncSession) -> dict[str, int]:
    """Jobs waiting (QUEUED) and running (RUNNING), every kind: the queue's depth."""
    statement = (
        sa.select(col(Job.status), sa.func.count())
        .where(col(Job.status).in_((QUEUED, RUNNING)))
        .group_by(col(Job.status))
    )
    counts = {QUEUED: 0, RUNNING: 0}
    counts.update({status: int(n) for status, n in (await session.execute(statement)).all()})
    return counts


async def count_busy_workers(*, session: AsyncSession, now: datetime) -> int:
    """Distinct workers (any process) holding an unexpired lease on a running job."""
    statement = sa.select(sa.func.count(sa.distinct(col(Job.worker_id)))).where(
        col(Job.status) == RUNNING, col(Job.lease_until) >= now
    )
    return int((await session.execute(statement)).scalar_one())
