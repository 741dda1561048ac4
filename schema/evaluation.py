"""Evaluation in the schema: the mutation that queues one, the visible evaluation of a run,
metrics over slices, and paging through true/false positives and misses.

Resolvers are thin: they call ``sliceboard.services.evaluation`` (requests) and
``sliceboard.services.evaluation_results`` (answers from the stored match table). Asking for
metrics before any evaluation completed is a top-level error with code FAILED_PRECONDITION.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.schema.context import Info
from sliceboard.schema.errors import InvalidInputError, NotFoundError
from sliceboard.schema.filters import ItemFilter, filter_to_dict
from sliceboard.schema.jobs import Job, JobStatus
from sliceboard.schema.pagination import Edge, PageInfo, page_size
from sliceboard.schema.reading import read
from sliceboard.schema.scalars import JSON, json_value
from sliceboard.services import evaluation as evaluation_service
from sliceboard.services import evaluation_browse as browse
from sliceboard.services import evaluation_cache
from sliceboard.services import evaluation_results as results
from sliceboard.services.jobs import get_job
from sliceboard.storage import tables

if TYPE_CHECKING:
    from sliceboard.schema.types.annotation import (
        Annotation,
        AnnotationConnection,
        PredictionConnection,
    )

MatchKey = tuple[int, int, float]  # (model run id, prediction id, IoU threshold)


@strawberry.enum
class Matching(Enum):
    CONFIDENCE = "CONFIDENCE"
    IOU_GREEDY = "IOU_GREEDY"
    NO_FALLBACK = "NO_FALLBACK"


@strawberry.enum
class EmptyClasses(Enum):
    EXCLUDE = "EXCLUDE"
    INCLUDE = "INCLUDE"


@strawberry.enum
class Outcome(Enum):
    TRUE_POSITIVE = "TRUE_POSITIVE"
    FALSE_POSITIVE = "FALSE_POSITIVE"


@strawberry.enum
class PredictionOrder(Enum):
    IOU_ASC = "IOU_ASC"
    IOU_DESC = "IOU_DESC"
    CONFIDENCE_ASC = "CONFIDENCE_ASC"
    CONFIDENCE_DESC = "CONFIDENCE_DESC"


@strawberry.input
class LabelMatchInput:
    ground_truth_label: str
    model_prediction_label: str


@strawberry.input
class EvaluationOptions:
    matching: Matching | None = Matching.CONFIDENCE
    class_agnostic: bool | None = False
    allowed_label_matches: list[LabelMatchInput] | None = strawberry.UNSET
    iou_thresholds: list[float] | None = strawberry.UNSET
    max_detections: int | None = 100
    empty_classes: EmptyClasses | None = EmptyClasses.EXCLUDE


@strawberry.input
class Range:
    min: float | None = strawberry.UNSET
    max: float | None = strawberry.UNSET


@strawberry.input
class PredictionFilter:
    outcome: Outcome | None = strawberry.UNSET
    labels: list[str] | None = strawberry.UNSET
    iou_range: Range | None = strawberry.UNSET
    confidence_range: Range | None = strawberry.UNSET
    items: ItemFilter | None = strawberry.UNSET


@strawberry.type
class CocoSummary:
    ap: float
    ap50: float
    ap75: float
    ap_small: float
    ap_medium: float
    ap_large: float
    ar1: float
    ar10: float
    ar100: float
    ar_small: float
    ar_medium: float
    ar_large: float


@strawberry.type
class LabelMetrics:
    label: str
    ap: float | None
    ap50: float | None
    ar: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    true_positives: int
    false_positives: int
    false_negatives: int


@strawberry.type
class PrPoint:
    recall: float
    precision: float
    confidence: float


@strawberry.type(description="Last row and column: background (unmatched).")
class ConfusionMatrix:
    labels: list[str]
    counts: list[list[int]]


@strawberry.type
class MetricsReport:
    """Each part is computed when a query selects it (and kept with the slice's report)."""

    report: strawberry.Private[results.Report]

    @strawberry.field
    def item_count(self) -> int:
        return self.report.item_count

    @strawberry.field
    def ground_truth_count(self) -> int:
        return self.report.ground_truth_count

    @strawberry.field
    def prediction_count(self) -> int:
        return self.report.prediction_count

    @strawberry.field
    async def coco(self) -> CocoSummary:
        return CocoSummary(**await self.report.coco())

    @strawberry.field
    async def per_label(self) -> list[LabelMetrics]:
        return [LabelMetrics(**vars(row)) for row in await self.report.per_label()]

    @strawberry.field
    async def confusion_matrix(self) -> ConfusionMatrix:
        labels, counts = await self.report.confusion()
        return ConfusionMatrix(labels=labels, counts=counts)

    @strawberry.field
    async def precision_recall_curve(self, label: str | None = None) -> list[PrPoint]:
        return [
            PrPoint(recall=r, precision=p, confidence=c)
            for r, p, c in await self.report.curve(label)
        ]


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


def _set(value: object) -> bool:
    return value is not None and value is not strawberry.UNSET


def needs_evaluation(
    prediction_filter: PredictionFilter | None, order_by: PredictionOrder | None
) -> bool:
    """Whether a ModelRun.predictions query needs match results (outcome, IoU) to answer."""
    if order_by is not None:
        return True
    if prediction_filter is None or prediction_filter is strawberry.UNSET:
        return False
    return _set(prediction_filter.outcome) or _set(prediction_filter.iou_range)


def _cache(info: Info) -> evaluation_cache.SnapshotCache:
    return info.context.runtime.snapshot_cache


def options_to_dict(options: EvaluationOptions | None) -> dict[str, Any]:
    """The service's snake_case option dict (unset options left out)."""
    if options is None:
        return {}
    out: dict[str, Any] = {}
    if _set(options.matching):
        out["matching"] = options.matching.value  # type: ignore[union-attr]
    if _set(options.class_agnostic):
        out["class_agnostic"] = options.class_agnostic
    if _set(options.empty_classes):
        out["empty_classes"] = options.empty_classes.value  # type: ignore[union-attr]
    if _set(options.max_detections):
        out["max_detections"] = options.max_detections
    if _set(options.iou_thresholds):
        out["iou_thresholds"] = list(options.iou_thresholds or [])
    if _set(options.allowed_label_matches):
        out["allowed_label_matches"] = [
            {
                "ground_truth_label": m.ground_truth_label,
                "model_prediction_label": m.model_prediction_label,
            }
            for m in options.allowed_label_matches or []
        ]
    return out


async def calculate_evaluation_metrics(
    info: Info, model_run_id: strawberry.ID, options: EvaluationOptions | None
) -> Job | InvalidInputError | NotFoundError:
    from sliceboard.schema.mutation import write  # the mutation module imports this one

    runtime = info.context.runtime

    async def work(session: AsyncSession) -> tables.Job:
        return await evaluation_service.request_evaluation(
            session,
            model_run_id=str(model_run_id),
            options=options_to_dict(options),
            max_attempts=runtime.settings.job_max_attempts,
        )

    outcome = await write(info, (InvalidInputError, NotFoundError), work)
    if isinstance(outcome, tables.Job):
        runtime.wake_jobs()
        return Job.from_row(outcome)
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
        row = await session.get(tables.Evaluation, run.current_evaluation_id)
        dataset = await session.get(tables.Dataset, run.dataset_id)
        if row is None or dataset is None:
            return None
        job = await get_job(session, job_id=str(row.job_id)) if row.job_id else None
        stale = (
            row.run_data_version != run.data_version
            or row.dataset_annotations_version != dataset.annotations_version
        )
        return Evaluation(
            id=strawberry.ID(str(row.id)),
            version=row.version,
            status=_evaluation_status(row, job),
            options=json_value(row.options or {}),
            is_stale=stale,
            created_at=row.created_at,
            completed_at=row.completed_at,
            job=Job.from_row(job) if job is not None else None,
            timings=json_value(row.timings) if row.timings is not None else None,
            error=row.error,
        )

    return await read(info, work)


async def model_run_metrics(
    info: Info,
    run: tables.ModelRun,
    *,
    filter: ItemFilter | None,
    slice_id: strawberry.ID | None,
    iou_threshold: float | None,
    confidence_threshold: float | None,
    labels: list[str] | None,
) -> MetricsReport:
    report = await read(
        info,
        lambda session: results.metrics_report(
            session,
            _cache(info),
            run=run,
            filter=filter_to_dict(filter),
            slice_id=str(slice_id) if _set(slice_id) else None,
            iou_threshold=0.5 if iou_threshold is None else iou_threshold,
            confidence_threshold=0.0 if confidence_threshold is None else confidence_threshold,
            labels=labels if _set(labels) else None,
        ),
    )
    return MetricsReport(report=report)


def _page_info(page: browse.Page) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=page.start_cursor,
        end_cursor=page.end_cursor,
    )


async def _total(value: int) -> int:
    return value


async def model_run_false_negatives(
    info: Info,
    run: tables.ModelRun,
    *,
    filter: ItemFilter | None,
    iou_threshold: float | None,
    labels: list[str] | None,
    first: int | None,
    after: str | None,
) -> Annotated[AnnotationConnection, strawberry.lazy("sliceboard.schema.types.annotation")]:
    from sliceboard.schema.types.annotation import Annotation, AnnotationConnection

    limit = page_size(info, first)
    page = await read(
        info,
        lambda session: browse.browse_false_negatives(
            session,
            _cache(info),
            run=run,
            filter=filter_to_dict(filter),
            labels=labels if _set(labels) else None,
            iou_threshold=0.5 if iou_threshold is None else iou_threshold,
            first=limit,
            after=after,
        ),
    )
    rows = await info.context.loaders.annotation.load_many(page.ids)
    edges = [
        Edge(cursor=browse.position_cursor(page, k), node=Annotation(row=row))
        for k, row in enumerate(rows)
        if row is not None
    ]
    return AnnotationConnection(
        page_info=_page_info(page), edges=edges, count=lambda: _total(page.total)
    )


async def model_run_evaluated_predictions(
    info: Info,
    run: tables.ModelRun,
    *,
    filter: PredictionFilter | None,
    order_by: PredictionOrder | None,
    iou_threshold: float | None,
    first: int | None,
    after: str | None,
) -> Annotated[PredictionConnection, strawberry.lazy("sliceboard.schema.types.annotation")]:
    from sliceboard.schema.types.annotation import Prediction, PredictionConnection

    threshold = 0.5 if iou_threshold is None else iou_threshold
    limit = page_size(info, first)
    plain: dict[str, Any] = {}
    if filter is not None:
        if _set(filter.outcome):
            plain["outcome"] = filter.outcome.value  # type: ignore[union-attr]
        if _set(filter.labels):
            plain["labels"] = filter.labels
        for key, bounds in (
            ("iou_range", filter.iou_range),
            ("confidence_range", filter.confidence_range),
        ):
            if _set(bounds):
                plain[key] = {
                    "min": bounds.min if _set(bounds.min) else None,  # type: ignore[union-attr]
                    "max": bounds.max if _set(bounds.max) else None,  # type: ignore[union-attr]
                }
        if _set(filter.items):
            plain["items"] = filter_to_dict(filter.items)
    page = await read(
        info,
        lambda session: browse.browse_predictions(
            session,
            _cache(info),
            run=run,
            filter=plain,
            order_by=order_by.value if order_by is not None else None,
            iou_threshold=threshold,
            first=limit,
            after=after,
        ),
    )
    run_id = int(run.id or 0)
    for prediction_id in page.ids:
        info.context.loaders.prediction_match.prime(
            (run_id, prediction_id, threshold),
            (page.ious[prediction_id], page.matched[prediction_id]),
        )
    rows = await info.context.loaders.prediction.load_many(page.ids)
    edges = [
        Edge(
            cursor=browse.position_cursor(page, k),
            node=Prediction(row=row, iou_threshold=threshold),
        )
        for k, row in enumerate(rows)
        if row is not None
    ]
    return PredictionConnection(
        page_info=_page_info(page), edges=edges, count=lambda: _total(page.total)
    )


async def prediction_iou(
    info: Info, prediction: tables.Prediction, iou_threshold: float = 0.5
) -> float | None:
    key = (prediction.model_run_id, int(prediction.id or 0), iou_threshold)
    iou, _ = await info.context.loaders.prediction_match.load(key)
    return iou


async def prediction_matched_annotation(
    info: Info, prediction: tables.Prediction, iou_threshold: float = 0.5
) -> Annotated[Annotation, strawberry.lazy("sliceboard.schema.types.annotation")] | None:
    from sliceboard.schema.types.annotation import Annotation

    key = (prediction.model_run_id, int(prediction.id or 0), iou_threshold)
    _, annotation_id = await info.context.loaders.prediction_match.load(key)
    if annotation_id is None:
        return None
    row = await info.context.loaders.annotation.load(annotation_id)
    return Annotation(row=row) if row is not None else None
