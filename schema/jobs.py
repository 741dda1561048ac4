"""GraphQL side of background jobs: the ``Job`` type, ``job`` query, ``cancelJob`` and the
``job`` subscription (every status/progress change until the job ends).

The subscription re-reads the row after each wake-up and compares ``revision``, so it follows
a job run by another process too; the in-process notifier only makes it prompt.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from sliceboard.errors import NotFound
from sliceboard.schema.context import Info
from sliceboard.schema.errors import NotFoundError, error_payload
from sliceboard.schema.scalars import JSON, json_value, utc
from sliceboard.services import jobs as job_service
from sliceboard.storage import tables


@strawberry.enum(
    description="Where a job is in its life; SUCCEEDED, FAILED and CANCELLED are final."
)
class JobStatus(Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@strawberry.type(description="Background work, e.g. an evaluation; progress runs from 0 to 1.")
class Job:
    id: strawberry.ID
    kind: str
    status: JobStatus
    progress: float
    message: str | None = strawberry.field(description="What the job is doing now, in words.")
    error: str | None = strawberry.field(
        description="Why the last attempt failed: exception type and message."
    )
    attempts: int = strawberry.field(
        description="Attempts started so far (a failed attempt is retried up to a limit)."
    )
    created_at: datetime
    started_at: datetime | None = strawberry.field(
        description="When the current or last attempt started."
    )
    finished_at: datetime | None
    rows_done: int | None = strawberry.field(
        default=None, description="Rows read so far (imports and exports); null for other jobs."
    )
    rows_total: int | None = strawberry.field(
        default=None, description="Rows in the file or selection, once known."
    )
    result: JSON | None = strawberry.field(
        default=None,
        description=(
            "A finished file job's outcome. IMPORT: {items, annotations, predictions: {new, "
            "updated, ignored}, labels}. EXPORT: {downloadUrl, bytes, format, fileName}."
        ),
    )
    issues: list[str] = strawberry.field(
        default_factory=list,
        description="Why an import FAILED: each problem with its line or JSON path; nothing was written.",
    )

    @classmethod
    def from_row(cls, row: tables.Job) -> Job:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            status=JobStatus(row.status),
            progress=row.progress,
            message=row.message,
            error=row.error,
            attempts=row.attempts,
            created_at=utc(row.created_at),
            started_at=utc(row.started_at) if row.started_at is not None else None,
            finished_at=utc(row.finished_at) if row.finished_at is not None else None,
            rows_done=row.rows_done,
            rows_total=row.rows_total,
            result=json_value(row.result) if row.result is not None else None,
            issues=list(row.issues or []),
        )


CancelJobPayload = Annotated[Job | NotFoundError, strawberry.union("CancelJobPayload")]


async def job(info: Info, id: strawberry.ID) -> Job | None:
    """``Query.job``: null for an id that names no job."""
    async with info.context.runtime.reading() as session:
        row = await job_service.get_job(session, job_id=id)
    return Job.from_row(row) if row is not None else None


async def cancel_job(info: Info, id: strawberry.ID) -> CancelJobPayload:
    """``Mutation.cancelJob``: a queued job ends at once, a running one when its handler next
    checks; the answer is the job as it is after the request."""
    runtime = info.context.runtime
    try:
        async with runtime.unit_of_work() as session:
            row = await job_service.cancel_job(session, job_id=id)
    except NotFound as exc:
        payload = error_payload(exc)
        assert isinstance(payload, NotFoundError)
        return payload
    runtime.notifier.notify(("job", row.id))
    return Job.from_row(row)


async def model_run_jobs(info: Info, model_run_id: int) -> list[Job]:
    """``ModelRun.jobs``: newest first."""
    async with info.context.runtime.reading() as session:
        rows = await job_service.list_jobs_for_run(session, model_run_id=model_run_id)
    return [Job.from_row(row) for row in rows]


async def job_updates(info: Info, id: strawberry.ID) -> AsyncGenerator[Job, None]:
    """``Subscription.job``: the job now, then each change, ending after a final status.

    An unknown id is a NOT_FOUND error; a job deleted meanwhile (its model run was deleted)
    ends the stream.
    """
    runtime = info.context.runtime

    async def current() -> tables.Job | None:
        async with runtime.reading() as session:
            return await job_service.get_job(session, job_id=id)

    row = await current()
    if row is None:
        raise NotFound("Job", id, "id")
    yield Job.from_row(row)
    key = ("job", row.id)
    revision = row.revision
    while not job_service.has_ended(row):
        await runtime.notifier.wait(key, timeout=runtime.settings.job_poll_seconds)
        latest = await current()
        if latest is None:
            return
        row = latest
        if row.revision != revision:
            revision = row.revision
            yield Job.from_row(row)
