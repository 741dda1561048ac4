"""Metrics of a slice of a run's visible evaluation: ``MetricsReport`` and its parts, each
computed only when a query selects it."""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry

from sliceboard.schema.context import Info
from sliceboard.schema.convert import given
from sliceboard.schema.evaluation.arguments import snapshot_cache
from sliceboard.schema.evaluation.segmentation import SegmentationMetrics
from sliceboard.schema.fields import field
from sliceboard.schema.filters import ItemFilter, filter_to_dict
from sliceboard.schema.reading import read
from sliceboard.services import run_intervals
from sliceboard.services.evaluation import results
from sliceboard.storage import tables

T = TypeVar("T")


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
class LabelMetrics(results.LabelRow):
    """The service's record as a GraphQL type: one list of fields for both."""


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
class Interval:
    low: float | None
    high: float | None


@strawberry.type
class IntervalSet:
    ap: Interval
    ap50: Interval
    ap75: Interval
    precision: Interval
    recall: Interval
    f1: Interval


@strawberry.type
class LabelIntervals:
    label: str
    ap: Interval
    ap50: Interval
    ap75: Interval
    precision: Interval
    recall: Interval
    f1: Interval


@strawberry.type(
    description="Percentile bootstrap intervals over items (null where a metric is undefined)."
)
class MetricIntervals:
    level: float
    resamples: int
    seed: int
    overall: IntervalSet
    per_label: list[LabelIntervals]


def _interval_set(values: dict[str, Any]) -> dict[str, Interval]:
    return {name: Interval(low=v.low, high=v.high) for name, v in values.items()}


@strawberry.type
class MetricsReport:
    """Each part is computed when a query selects it (and kept with the slice's report)."""

    report: strawberry.Private[results.Report]
    arguments: strawberry.Private[dict[str, Any]]

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

    @field(
        description="Semantic masks' pixel and segment metrics; null when the run has none. The other fields (and the labels argument) cover instance geometries only."
    )
    async def segmentation(self) -> SegmentationMetrics | None:
        part = await self.report.segmentation()
        return None if part is None else SegmentationMetrics(report=self.report, part=part)

    @field(
        description="Bootstrap intervals over items of AP, AP50, AP75, precision, recall and "
        "F1, overall and per label; the same seed gives the same interval; resamples at most "
        "SLICEBOARD_MAX_BOOTSTRAP_RESAMPLES."
    )
    async def intervals(
        self, info: Info, level: float = 0.95, resamples: int = 1000, seed: int = 0
    ) -> MetricIntervals:
        settings = info.context.runtime.settings
        found = await read(
            info,
            lambda session: run_intervals.metrics_intervals(
                session,
                snapshot_cache(info),
                **self.arguments,
                level=level,
                resamples=resamples,
                seed=seed,
                max_resamples=settings.max_bootstrap_resamples,
            ),
        )
        return MetricIntervals(
            level=level,
            resamples=resamples,
            seed=seed,
            overall=IntervalSet(**_interval_set(found.overall)),
            per_label=[
                LabelIntervals(label=label, **_interval_set(values))
                for label, values in found.per_label.items()
            ],
        )

    @strawberry.field
    async def precision_recall_curve(self, info: Info, label: str | None = None) -> list[PrPoint]:
        limit = info.context.runtime.settings.max_list_items
        points = await self.report.curve(label, limit)
        return [PrPoint(recall=r, precision=p, confidence=c) for r, p, c in points]


def evenly_spaced(points: list[T], limit: int) -> list[T]:
    """At most ``limit`` points, first and last kept: a curve has one point per prediction, so
    without this bound one field could answer millions (README, "Request limits")."""
    return [points[k] for k in results.evenly_spaced_positions(len(points), limit).tolist()]


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
    arguments: dict[str, Any] = {
        "run": run,
        "filter": filter_to_dict(filter),
        "slice_id": str(slice_id) if given(slice_id) else None,
        "iou_threshold": 0.5 if iou_threshold is None else iou_threshold,
        "confidence_threshold": 0.0 if confidence_threshold is None else confidence_threshold,
        "labels": labels if given(labels) else None,
    }
    report = await read(
        info, lambda session: results.metrics_report(session, snapshot_cache(info), **arguments)
    )
    return MetricsReport(report=report, arguments=arguments)
