"""SQL of evaluation versions: create one, record its progress, store its results, move a run's
visible evaluation forward, and read a stored snapshot back.

A version's results are written once (``status`` SUCCEEDED is final); a run points at the
version it shows (``model_run.current_evaluation_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.storage.tables import Evaluation, Job, ModelRun, core

EVALUATION = core(Evaluation)
MODEL_RUN = core(ModelRun)
JOB = core(Job)


async def select_evaluation(*, session: AsyncSession, evaluation_id: int) -> Evaluation | None:
    return await session.get(Evaluation, evaluation_id)


async def lock_model_run(*, session: AsyncSession, model_run_id: int) -> int | None:
    """Take the run's row lock until the transaction ends (``SELECT ... FOR UPDATE``), so two
    requests for one run choose its next version and look for a job to share one after the
    other; SQLite's write transaction (``BEGIN IMMEDIATE``) serialises them already. The run's
    dataset id, or None when the run does not exist."""
    statement = (
        sa.select(MODEL_RUN.c.dataset_id).where(MODEL_RUN.c.id == model_run_id).with_for_update()
    )
    row = (await session.execute(statement)).first()
    return None if row is None else int(row[0])


async def select_evaluations_in_progress(
    *, session: AsyncSession, model_run_id: int
) -> list[tuple[Evaluation, Job]]:
    """The run's versions whose job is still QUEUED or RUNNING and not asked to cancel, newest
    first, with their jobs."""
    statement = (
        sa.select(Evaluation, Job)
        .join(Job, JOB.c.id == EVALUATION.c.job_id)
        .where(
            EVALUATION.c.model_run_id == model_run_id,
            JOB.c.status.in_(("QUEUED", "RUNNING")),
            sa.not_(JOB.c.cancel_requested),
        )
        .order_by(EVALUATION.c.version.desc())
    )
    return [(row[0], row[1]) for row in (await session.execute(statement)).all()]


async def insert_evaluation(
    *, session: AsyncSession, model_run_id: int, options: dict[str, Any], job: Job
) -> Evaluation:
    """The run's next version (one above its newest), QUEUED and computed by ``job``, whose
    payload is set to name it; both ids are set (flushed) when this returns."""
    latest = (
        await session.execute(
            sa.select(sa.func.max(EVALUATION.c.version)).where(
                EVALUATION.c.model_run_id == model_run_id
            )
        )
    ).scalar()
    evaluation = Evaluation(
        model_run_id=model_run_id, version=(latest or 0) + 1, options=options, job_id=job.id
    )
    session.add(evaluation)
    await session.flush()
    job.payload = {"evaluation_id": evaluation.id}
    await session.flush()
    return evaluation


async def update_unfinished_status(
    *, session: AsyncSession, evaluation_id: int, status: str, error: str | None
) -> None:
    """Sets the status of a version that has not succeeded (a success is final)."""
    await session.execute(
        sa.update(EVALUATION)
        .where(EVALUATION.c.id == evaluation_id, EVALUATION.c.status != "SUCCEEDED")
        .values(status=status, error=error)
    )


async def store_results(
    *,
    session: AsyncSession,
    evaluation_id: int,
    snapshot: bytes,
    timings: dict[str, float],
    completed_at: datetime,
    run_data_version: int,
    dataset_annotations_version: int,
) -> None:
    """Marks the version SUCCEEDED with its snapshot and the data versions it was computed on."""
    await session.execute(
        sa.update(EVALUATION)
        .where(EVALUATION.c.id == evaluation_id)
        .values(
            status="SUCCEEDED",
            snapshot=snapshot,
            timings=timings,
            error=None,
            completed_at=completed_at,
            run_data_version=run_data_version,
            dataset_annotations_version=dataset_annotations_version,
        )
    )


async def show_unless_newer_shown(
    *, session: AsyncSession, model_run_id: int, evaluation_id: int, version: int
) -> None:
    """Makes the version the run's visible one, unless the run already shows a newer version."""
    newer_visible = (
        sa.select(EVALUATION.c.id)
        .where(
            EVALUATION.c.id == MODEL_RUN.c.current_evaluation_id,
            EVALUATION.c.version > version,
        )
        .exists()
    )
    await session.execute(
        sa.update(MODEL_RUN)
        .where(MODEL_RUN.c.id == model_run_id, ~newer_visible)
        .values(current_evaluation_id=evaluation_id)
    )


async def select_snapshot_blob(*, session: AsyncSession, evaluation_id: int) -> bytes | None:
    """The stored snapshot of a version; None before it succeeded (or when it is gone)."""
    blob: bytes | None = (
        await session.execute(
            sa.select(EVALUATION.c.snapshot).where(EVALUATION.c.id == evaluation_id)
        )
    ).scalar()
    return blob
