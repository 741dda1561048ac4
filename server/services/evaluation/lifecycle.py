"""Evaluation versions of a model run: the request (a new version and its job), the steps the
``evaluate`` job takes (load rows, match, publish the new version in one commit), and the
version a run shows.

Delivery is at least once, so every step is idempotent: a finished version is never redone,
and publishing only ever moves a run's visible evaluation forward.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue, NotFound
from sliceboard.evaluation import evaluate
from sliceboard.services.evaluation.inputs import RunInputs, UnsupportedRun, build_run_inputs
from sliceboard.services.evaluation.options import EvaluationOptions, OptionLimits, match_options
from sliceboard.services.evaluation.semantic_inputs import evaluate_semantic_masks
from sliceboard.services.evaluation.snapshot import Snapshot
from sliceboard.services.ids import require_id
from sliceboard.services.jobs import enqueue_job, get_job
from sliceboard.services.visibility import sees_dataset
from sliceboard.storage import evaluations
from sliceboard.storage import jobs as job_store
from sliceboard.storage.catalog_writes import select_dataset, select_model_run
from sliceboard.storage.evaluation_data import RunData, load_run_data
from sliceboard.storage.tables import Evaluation, Job, ModelRun, utcnow

EVALUATE = "evaluate"


async def request_evaluation(
    session: AsyncSession,
    *,
    model_run_id: str,
    options: EvaluationOptions,
    max_attempts: int,
    limits: OptionLimits = OptionLimits(),
    max_queued: int = 10,
) -> Job:
    """A new QUEUED evaluation version of the run and the job that computes it - or the job of
    a version with the same options still queued or running, so repeated clicks share one.

    The run's row is locked first: concurrent requests take the next version and look for a
    job to share one after another (without it PostgreSQL answered UniqueViolation).

    Raises:
        NotFound: no such run.
        InvalidInput: an option beyond its bound, or the run already has ``max_queued``
            evaluations waiting in the queue (path ``modelRunId``).
    """
    run_id = require_id(model_run_id, "ModelRun", "modelRunId")
    dataset_id = await evaluations.lock_model_run(session=session, model_run_id=run_id)
    if dataset_id is None or not sees_dataset(dataset_id):
        raise NotFound("ModelRun", model_run_id, "modelRunId")
    stored = options.checked(limits).to_json()
    in_progress = await evaluations.select_evaluations_in_progress(
        session=session, model_run_id=run_id
    )
    for evaluation, job in in_progress:
        if EvaluationOptions.from_json(evaluation.options).to_json() == stored:
            return job
    queued = await job_store.count_queued_jobs(session=session, model_run_id=run_id, kind=EVALUATE)
    if queued >= max_queued:
        raise InvalidInput(
            [
                Issue(
                    "modelRunId",
                    f"the run already has {queued} evaluations queued (at most {max_queued}, "
                    "SLICEBOARD_MAX_QUEUED_EVALUATIONS_PER_RUN); wait for one to finish or "
                    "cancel one",
                )
            ]
        )
    job = await enqueue_job(
        session, kind=EVALUATE, payload=None, model_run_id=run_id, max_attempts=max_attempts
    )
    await evaluations.insert_evaluation(
        session=session, model_run_id=run_id, options=stored, job=job
    )
    return job


def compute_snapshot(data: RunData, options: EvaluationOptions) -> tuple[bytes, dict[str, float]]:
    """CPU-bound part of an evaluation, run in a worker process: rows in, stored blob out."""
    started = time.perf_counter()
    inputs: RunInputs = build_run_inputs(data)
    built = time.perf_counter()
    table = evaluate(
        inputs.ground_truth,
        inputs.predictions,
        inputs.similarity,
        n_items=len(inputs.item_ids),
        n_labels=len(inputs.label_names),
        options=match_options(options, inputs.label_names, inputs.kind),
    )
    matched = time.perf_counter()
    semantic = (
        None
        if data.semantic is None
        else evaluate_semantic_masks(data.semantic, inputs.item_ids, options)
    )
    measured = time.perf_counter()
    snapshot = Snapshot(
        table=table,
        item_ids=inputs.item_ids,
        gt_ids=inputs.gt_ids,
        dt_ids=inputs.dt_ids,
        label_names=inputs.label_names,
        kind=inputs.kind,
        family=inputs.family,
        semantic=None if semantic is None else semantic.table,
        semantic_labels=() if semantic is None else tuple(semantic.label_names),
    )
    blob = snapshot.to_bytes()
    timings = {
        "buildSeconds": built - started,
        "matchSeconds": matched - built,
        "storeSeconds": time.perf_counter() - measured,
    }
    if semantic is not None:
        timings["semanticSeconds"] = measured - matched
    return blob, timings


@dataclass(frozen=True)
class EvaluationWork:
    """What one evaluation attempt needs, read in one snapshot of the database."""

    evaluation_id: int
    run_id: int
    version: int
    options: EvaluationOptions
    run_data_version: int
    dataset_annotations_version: int
    data: RunData


async def load_work(session: AsyncSession, *, evaluation_id: int) -> EvaluationWork | None:
    """The rows to evaluate, or None when this version already succeeded (a redelivery).

    Raises:
        UnsupportedRun: the evaluation or its run no longer exists.
    """
    evaluation = await evaluations.select_evaluation(session=session, evaluation_id=evaluation_id)
    if evaluation is None:
        raise UnsupportedRun(f"evaluation {evaluation_id} no longer exists")
    if evaluation.status == "SUCCEEDED":
        return None
    run = await select_model_run(session=session, model_run_id=evaluation.model_run_id)
    dataset = await select_dataset(session=session, dataset_id=run.dataset_id) if run else None
    if run is None or run.id is None or dataset is None:
        raise UnsupportedRun("the model run no longer exists")
    return EvaluationWork(
        evaluation_id=evaluation_id,
        run_id=run.id,
        version=evaluation.version,
        options=EvaluationOptions.from_json(evaluation.options),
        run_data_version=run.data_version,
        dataset_annotations_version=dataset.annotations_version,
        data=await load_run_data(session=session, run=run),
    )


async def set_status(
    session: AsyncSession, *, evaluation_id: int, status: str, error: str | None = None
) -> None:
    """Records progress of a version that has not succeeded (a success is final)."""
    await evaluations.update_unfinished_status(
        session=session, evaluation_id=evaluation_id, status=status, error=error
    )


async def publish(
    session: AsyncSession, *, work: EvaluationWork, blob: bytes, timings: dict[str, float]
) -> None:
    """Stores the results and makes them visible in the same commit; an older version that
    finishes after a newer one is stored but not shown."""
    await evaluations.store_results(
        session=session,
        evaluation_id=work.evaluation_id,
        snapshot=blob,
        timings=timings,
        completed_at=utcnow(),
        run_data_version=work.run_data_version,
        dataset_annotations_version=work.dataset_annotations_version,
    )
    await evaluations.show_unless_newer_shown(
        session=session,
        model_run_id=work.run_id,
        evaluation_id=work.evaluation_id,
        version=work.version,
    )


@dataclass(frozen=True)
class VisibleEvaluation:
    """The version a run shows, its job (gone when deleted), and whether the run's predictions
    or the dataset's annotations changed since it was computed."""

    row: Evaluation
    job: Job | None
    is_stale: bool


async def visible_evaluation(session: AsyncSession, *, run: ModelRun) -> VisibleEvaluation | None:
    """None before the run's first evaluation completes."""
    if run.current_evaluation_id is None:
        return None
    row = await evaluations.select_evaluation(
        session=session, evaluation_id=run.current_evaluation_id
    )
    dataset = await select_dataset(session=session, dataset_id=run.dataset_id)
    if row is None or dataset is None:
        return None
    job = await get_job(session, job_id=str(row.job_id)) if row.job_id else None
    stale = (
        row.run_data_version != run.data_version
        or row.dataset_annotations_version != dataset.annotations_version
    )
    return VisibleEvaluation(row=row, job=job, is_stale=stale)
