"""Evaluating a model run: the request (a new evaluation version and its job), and the steps
the ``evaluate`` job takes (load rows, match, publish the new version in one commit).

Delivery is at least once, so every step is idempotent: a finished version is never redone,
and publishing only ever moves a run's visible evaluation forward.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue, NotFound
from sliceboard.evaluation import (
    COCO_IOU_THRESHOLDS,
    LOW_IOU_THRESHOLDS,
    EmptyClasses,
    Matching,
    MatchOptions,
    evaluate,
)
from sliceboard.services.evaluation.inputs import EngineInputs, UnsupportedRun, build_inputs
from sliceboard.services.evaluation.snapshot import Snapshot
from sliceboard.services.ids import require_id
from sliceboard.services.jobs import enqueue_job
from sliceboard.storage.evaluation_data import RunData, load_run_data
from sliceboard.storage.tables import Dataset, Evaluation, Job, ModelRun, core, utcnow

EVALUATE = "evaluate"
MAX_DETECTIONS_LIMIT = 10_000
EVALUATION = core(Evaluation)
MODEL_RUN = core(ModelRun)

DEFAULT_OPTIONS: dict[str, Any] = {
    "matching": "CONFIDENCE",
    "classAgnostic": False,
    "allowedLabelMatches": [],
    "iouThresholds": None,
    "maxDetections": 100,
    "emptyClasses": "EXCLUDE",
}


def normalise_options(raw: dict[str, Any] | None) -> dict[str, Any]:
    """Validated options in the contract's names (what ``Evaluation.options`` shows)."""
    raw = raw or {}
    issues: list[Issue] = []
    options = dict(DEFAULT_OPTIONS)
    if raw.get("matching") is not None:
        options["matching"] = str(raw["matching"])
    if raw.get("class_agnostic") is not None:
        options["classAgnostic"] = bool(raw["class_agnostic"])
    if raw.get("empty_classes") is not None:
        options["emptyClasses"] = str(raw["empty_classes"])
    pairs = []
    for k, pair in enumerate(raw.get("allowed_label_matches") or []):
        gt_label, dt_label = pair.get("ground_truth_label"), pair.get("model_prediction_label")
        for name, value in (("groundTruthLabel", gt_label), ("modelPredictionLabel", dt_label)):
            if not isinstance(value, str) or not value.strip():
                issues.append(
                    Issue(f"options.allowedLabelMatches[{k}].{name}", "must not be empty")
                )
        pairs.append([gt_label, dt_label])
    options["allowedLabelMatches"] = pairs
    thresholds = raw.get("iou_thresholds")
    if thresholds is not None:
        if not thresholds:
            issues.append(Issue("options.iouThresholds", "must hold at least one threshold"))
        for k, t in enumerate(thresholds):
            if not isinstance(t, int | float) or not math.isfinite(t) or not 0.0 < t <= 1.0:
                issues.append(Issue(f"options.iouThresholds[{k}]", "must lie in (0, 1]"))
        if len(set(thresholds)) != len(thresholds):
            issues.append(Issue("options.iouThresholds", "must not repeat a threshold"))
        options["iouThresholds"] = sorted(float(t) for t in thresholds)
    max_detections = raw.get("max_detections")
    if max_detections is not None:
        if not 1 <= int(max_detections) <= MAX_DETECTIONS_LIMIT:
            issues.append(Issue("options.maxDetections", f"must lie in 1..{MAX_DETECTIONS_LIMIT}"))
        options["maxDetections"] = int(max_detections)
    if issues:
        raise InvalidInput(issues)
    return options


def match_options(
    options: dict[str, Any], label_names: list[str], kind: str = "bbox"
) -> MatchOptions:
    """Engine options for a run; the 0.05 grid below COCO's thresholds is always evaluated so
    any threshold on it can be queried later. Keypoints follow COCO: maxDets 20 (unless the
    user chose another limit) and no "small" area range."""
    index = {name: k for k, name in enumerate(label_names)}
    allowed = tuple(
        (index[gt], index[dt])
        for gt, dt in options["allowedLabelMatches"]
        if gt in index and dt in index
    )
    if options["iouThresholds"]:
        main = tuple(options["iouThresholds"])
    else:
        main = tuple(float(t) for t in COCO_IOU_THRESHOLDS)
    extra = tuple(
        float(t) for t in LOW_IOU_THRESHOLDS if not np.any(np.abs(np.array(main) - t) < 1e-9)
    )
    m = options["maxDetections"]
    if kind == "keypoints":
        return MatchOptions.keypoints(
            matching=Matching(options["matching"]),
            class_agnostic=options["classAgnostic"],
            allowed_label_matches=allowed,
            iou_thresholds=main,
            extra_iou_thresholds=extra,
            max_detections=(20 if m == DEFAULT_OPTIONS["maxDetections"] else m,),
            empty_classes=EmptyClasses(options["emptyClasses"]),
        )
    return MatchOptions(
        matching=Matching(options["matching"]),
        class_agnostic=options["classAgnostic"],
        allowed_label_matches=allowed,
        iou_thresholds=main,
        extra_iou_thresholds=extra,
        max_detections=tuple(sorted({min(1, m), min(10, m), m})),
        empty_classes=EmptyClasses(options["emptyClasses"]),
    )


async def request_evaluation(
    session: AsyncSession, *, model_run_id: str, options: dict[str, Any] | None, max_attempts: int
) -> Job:
    """A new QUEUED evaluation version of the run and the job that computes it."""
    run_id = require_id(model_run_id, "ModelRun", "modelRunId")
    run = await session.get(ModelRun, run_id)
    if run is None:
        raise NotFound("ModelRun", model_run_id, "modelRunId")
    normalised = normalise_options(options)
    latest = (
        await session.execute(
            sa.select(sa.func.max(EVALUATION.c.version)).where(EVALUATION.c.model_run_id == run_id)
        )
    ).scalar()
    job = await enqueue_job(
        session, kind=EVALUATE, payload=None, model_run_id=run_id, max_attempts=max_attempts
    )
    evaluation = Evaluation(
        model_run_id=run_id, version=(latest or 0) + 1, options=normalised, job_id=job.id
    )
    session.add(evaluation)
    await session.flush()
    job.payload = {"evaluation_id": evaluation.id}
    await session.flush()
    return job


def compute_snapshot(data: RunData, options: dict[str, Any]) -> tuple[bytes, dict[str, float]]:
    """CPU-bound part of an evaluation, run in a worker process: rows in, stored blob out."""
    started = time.perf_counter()
    inputs: EngineInputs = build_inputs(data)
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
    snapshot = Snapshot(
        table=table,
        item_ids=inputs.item_ids,
        gt_ids=inputs.gt_ids,
        dt_ids=inputs.dt_ids,
        label_names=inputs.label_names,
        kind=inputs.kind,
        family=inputs.family,
    )
    blob = snapshot.to_bytes()
    return blob, {
        "buildSeconds": built - started,
        "matchSeconds": matched - built,
        "storeSeconds": time.perf_counter() - matched,
    }


@dataclass(frozen=True)
class EvaluationWork:
    """What one evaluation attempt needs, read in one snapshot of the database."""

    evaluation_id: int
    run_id: int
    version: int
    options: dict[str, Any]
    run_data_version: int
    dataset_annotations_version: int
    data: RunData


async def load_work(session: AsyncSession, *, evaluation_id: int) -> EvaluationWork | None:
    """The rows to evaluate, or None when this version already succeeded (a redelivery).

    Raises:
        UnsupportedRun: the evaluation or its run no longer exists.
    """
    evaluation = await session.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise UnsupportedRun(f"evaluation {evaluation_id} no longer exists")
    if evaluation.status == "SUCCEEDED":
        return None
    run = await session.get(ModelRun, evaluation.model_run_id)
    dataset = await session.get(Dataset, run.dataset_id) if run else None
    if run is None or run.id is None or dataset is None:
        raise UnsupportedRun("the model run no longer exists")
    return EvaluationWork(
        evaluation_id=evaluation_id,
        run_id=run.id,
        version=evaluation.version,
        options=evaluation.options or dict(DEFAULT_OPTIONS),
        run_data_version=run.data_version,
        dataset_annotations_version=dataset.annotations_version,
        data=await load_run_data(session=session, run=run),
    )


async def set_status(
    session: AsyncSession, *, evaluation_id: int, status: str, error: str | None = None
) -> None:
    """Records progress of a version that has not succeeded (a success is final)."""
    await session.execute(
        sa.update(EVALUATION)
        .where(EVALUATION.c.id == evaluation_id, EVALUATION.c.status != "SUCCEEDED")
        .values(status=status, error=error)
    )


async def publish(
    session: AsyncSession, *, work: EvaluationWork, blob: bytes, timings: dict[str, float]
) -> None:
    """Stores the results and makes them visible in the same commit; an older version that
    finishes after a newer one is stored but not shown."""
    await session.execute(
        sa.update(EVALUATION)
        .where(EVALUATION.c.id == work.evaluation_id)
        .values(
            status="SUCCEEDED",
            snapshot=blob,
            timings=timings,
            error=None,
            completed_at=utcnow(),
            run_data_version=work.run_data_version,
            dataset_annotations_version=work.dataset_annotations_version,
        )
    )
    newer_visible = (
        sa.select(EVALUATION.c.id)
        .where(
            EVALUATION.c.id == MODEL_RUN.c.current_evaluation_id,
            EVALUATION.c.version > work.version,
        )
        .exists()
    )
    await session.execute(
        sa.update(MODEL_RUN)
        .where(MODEL_RUN.c.id == work.run_id, ~newer_visible)
        .values(current_evaluation_id=work.evaluation_id)
    )
