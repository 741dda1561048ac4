"""Enqueue, read and cancel background jobs.

Like every service these take the caller's session and never commit. After the commit the
caller wakes the runner (``runtime.wake_jobs()``) for a new job and tells subscribers
(``runtime.notifier.notify(("job", job.id))``) about a cancelled one; a job enqueued but never
announced is still found by the runner's next poll.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue, NotFound
from sliceboard.services.ids import parse_id, require_id
from sliceboard.services.visibility import visible_row
from sliceboard.storage import jobs as job_store
from sliceboard.storage.tables import Job, utcnow


async def enqueue_job(
    session: AsyncSession,
    *,
    kind: str,
    payload: dict[str, Any] | None,
    model_run_id: int | None = None,
    max_attempts: int,
) -> Job:
    """A new QUEUED job, runnable at once; its id is set (flushed) when this returns."""
    issues = []
    if not kind or len(kind) > 64:
        issues.append(Issue("kind", "must be 1 to 64 characters"))
    if max_attempts < 1:
        issues.append(Issue("maxAttempts", "must be at least 1"))
    if issues:
        raise InvalidInput(issues)
    return await job_store.insert_job(
        session=session,
        kind=kind,
        payload=payload,
        model_run_id=model_run_id,
        max_attempts=max_attempts,
        now=utcnow(),
    )


async def get_job(session: AsyncSession, *, job_id: str) -> Job | None:
    """The job a GraphQL ID names, or None (also for a malformed ID)."""
    row_id = parse_id(job_id)
    if row_id is None:
        return None
    return await visible_row(session, await job_store.select_job(session=session, job_id=row_id))


async def cancel_job(session: AsyncSession, *, job_id: str) -> Job:
    """Cancel a queued job at once, or ask a running one to stop (it becomes CANCELLED when its
    handler next checks or ends). A finished job is returned unchanged."""
    row_id = require_id(job_id, "Job", "id")
    if await get_job(session, job_id=str(row_id)) is None:
        raise NotFound("Job", job_id, "id")
    job = await job_store.request_cancel(session=session, job_id=row_id, now=utcnow())
    if job is None:
        raise NotFound("Job", job_id, "id")
    return job


def has_ended(job: Job) -> bool:
    """True once the job reached a final status (SUCCEEDED, FAILED or CANCELLED)."""
    return job.status in job_store.TERMINAL_STATUSES


async def list_jobs_for_run(session: AsyncSession, *, model_run_id: int) -> list[Job]:
    """A model run's jobs, newest first."""
    return await job_store.select_jobs_for_run(session=session, model_run_id=model_run_id)


async def queue_depth(session: AsyncSession) -> tuple[dict[str, int], int]:
    """(open jobs by status, workers busy on one now), over every process."""
    open_jobs = await job_store.count_open_jobs(session=session)
    busy = await job_store.count_busy_workers(session=session, now=utcnow())
    return open_jobs, busy
