"""Evaluation versions in the schema: the mutation that queues one, and the ``Evaluation`` a
run shows."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.principal import client_key, principal_of
from sliceboard.rate_limits import retry_after_header
from sliceboard.schema.context import Info
from sliceboard.schema.errors import InvalidInputError, NotFoundError, RateLimitedError
from sliceboard.schema.evaluation.options import EvaluationOptionsInput, options_from_input
from sliceboard.schema.jobs import Job, JobStatus
from sliceboard.schema.reading import read
from sliceboard.schema.scalars import JSON, json_value
from sliceboard.services.evaluation import lifecycle
from sliceboard.services.evaluation.options import OptionLimits
from sliceboard.services.ids import parse_id
from sliceboard.storage import tables


@strawberry.type
class Evaluation:
    id: strawberry.ID
    version: int
    status: JobStatus
    options: JSON
    is_stale: bool
    created_at: datetime
    completed_at: datetime | None
    job: Job | None
    timings: JSON | None = strawberry.field(
        description="Seconds spent loading, matching and storing (loadSeconds, matchSeconds, ...)."
    )
    error: str | None = strawberry.field(description="Why this version failed, if it did.")


def _evaluation_caller(info: Info, model_run_id: strawberry.ID) -> tuple[str, object]:
    """The key of the evaluation limit: (caller, run)."""
    client = getattr(info.context.request, "client", None)
    caller = client_key(principal_of(info.context), getattr(client, "host", None))
    return caller, parse_id(model_run_id) or str(model_run_id)


async def calculate_evaluation_metrics(
    info: Info, model_run_id: strawberry.ID, options: EvaluationOptionsInput | None
) -> Job | InvalidInputError | NotFoundError | RateLimitedError:
    from sliceboard.schema.mutation import write  # the mutation module imports this one

    runtime = info.context.runtime
    limit = runtime.evaluation_limit
    caller = _evaluation_caller(info, model_run_id)
    if limit is not None:
        wait = limit.take(caller)
        if wait:
            runtime.metrics.rate_limited("evaluations")
            per_hour = runtime.settings.evaluations_per_run_per_hour
            return RateLimitedError(
                message=f"at most {per_hour} evaluations of a run per hour "
                f"(SLICEBOARD_EVALUATIONS_PER_RUN_PER_HOUR); retry in {retry_after_header(wait)} s",
                retry_after_seconds=wait,
            )
    settings = runtime.settings
    limits = OptionLimits(
        max_iou_thresholds=settings.max_iou_thresholds,
        max_detections=settings.max_detections_limit,
        max_label_matches=settings.max_label_matches,
    )

    async def work(session: AsyncSession) -> tables.Job:
        return await lifecycle.request_evaluation(
            session,
            model_run_id=str(model_run_id),
            options=options_from_input(options),
            max_attempts=settings.job_max_attempts,
            limits=limits,
            max_queued=settings.max_queued_evaluations_per_run,
        )

    outcome = await write(info, (InvalidInputError, NotFoundError), work)
    if isinstance(outcome, tables.Job):
        runtime.wake_jobs()
        return Job.from_row(outcome)
    if limit is not None:  # refused input queued nothing: it does not count
        limit.give_back(caller)
    return outcome  # type: ignore[return-value]


def _evaluation_status(row: tables.Evaluation, job: tables.Job | None) -> JobStatus:
    """A version's own status once it ended; before that, its job's (retries, a dead worker)."""
    if row.status in ("SUCCEEDED", "FAILED", "CANCELLED") or job is None:
        return JobStatus(row.status)
    return JobStatus(job.status)


async def model_run_evaluation(info: Info, run: tables.ModelRun) -> Evaluation | None:
    if run.current_evaluation_id is None:
        return None

    async def work(session: AsyncSession) -> Evaluation | None:
        visible = await lifecycle.visible_evaluation(session, run=run)
        if visible is None:
            return None
        row, job = visible.row, visible.job
        return Evaluation(
            id=strawberry.ID(str(row.id)),
            version=row.version,
            status=_evaluation_status(row, job),
            options=json_value(row.options or {}),
            is_stale=visible.is_stale,
            created_at=row.created_at,
            completed_at=row.completed_at,
            job=Job.from_row(job) if job is not None else None,
            timings=json_value(row.timings) if row.timings is not None else None,
            error=row.error,
        )

    return await read(info, work)
