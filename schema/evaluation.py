"""Evaluation results in the schema: the contract's names and types, resolved to a clear
"not available yet" until the evaluation services land (the lead takes this module over and
points the resolvers at ``server/services/evaluation_queries.py``).

Queries answer a top-level error with ``extensions.code = NOT_IMPLEMENTED`` (or null where null
is already the truthful answer: no evaluation exists before one can be run); the mutation
answers an ``InvalidInputError``.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.context import Info
from schema.errors import InputIssue, InvalidInputError
from schema.extensions import PublicError
from schema.filters import ItemFilter
from schema.jobs import Job, JobStatus
from schema.scalars import JSON
from server.storage import tables

if TYPE_CHECKING:
    from schema.types.annotation import Annotation, AnnotationConnection, PredictionConnection

NOT_AVAILABLE = "evaluation is not available yet"


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
    item_count: int
    ground_truth_count: int
    prediction_count: int
    coco: CocoSummary
    per_label: list[LabelMetrics]
    confusion_matrix: ConfusionMatrix
    curves: strawberry.Private[dict[str, list[PrPoint]]]

    @strawberry.field
    def precision_recall_curve(self, label: str | None = None) -> list[PrPoint]:
        return self.curves.get(label or "", [])


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


def not_implemented() -> PublicError:
    return PublicError(NOT_AVAILABLE, code="NOT_IMPLEMENTED")


def evaluation_unavailable() -> InvalidInputError:
    return InvalidInputError(
        message=NOT_AVAILABLE, issues=[InputIssue(path="modelRunId", message=NOT_AVAILABLE)]
    )


def needs_evaluation(
    prediction_filter: PredictionFilter | None, order_by: PredictionOrder | None
) -> bool:
    """Whether a ModelRun.predictions query needs match results (outcome, IoU) to answer."""
    if order_by is not None:
        return True  # IoU order needs matches; confidence order a (confidence, id) cursor: both come with the results
    if prediction_filter is None or prediction_filter is strawberry.UNSET:
        return False
    return prediction_filter.outcome not in (
        None,
        strawberry.UNSET,
    ) or prediction_filter.iou_range not in (None, strawberry.UNSET)


async def model_run_evaluation(info: Info, run: tables.ModelRun) -> Evaluation | None:
    if run.current_evaluation_id is None:
        return None
    raise not_implemented()


async def model_run_metrics(info: Info, run: tables.ModelRun) -> MetricsReport:
    raise not_implemented()


async def model_run_false_negatives(
    info: Info, run: tables.ModelRun
) -> Annotated[AnnotationConnection, strawberry.lazy("schema.types.annotation")]:
    raise not_implemented()


async def model_run_evaluated_predictions(
    info: Info, run: tables.ModelRun
) -> Annotated[PredictionConnection, strawberry.lazy("schema.types.annotation")]:
    raise not_implemented()


async def prediction_iou(info: Info, prediction: tables.Prediction) -> float | None:
    return None


async def prediction_matched_annotation(
    info: Info, prediction: tables.Prediction
) -> Annotated[Annotation, strawberry.lazy("schema.types.annotation")] | None:
    return None


async def calculate_evaluation_metrics(
    info: Info, model_run_id: strawberry.ID, options: EvaluationOptions | None
) -> InvalidInputError:
    return evaluation_unavailable()
