"""Custom metrics in GraphQL: the contract's inputs and outputs, and their two resolvers, wired
into Mutation and ModelRun as:

    Mutation.uploadCustomMetrics = strawberry.mutation(resolver=upload_custom_metrics)
    ModelRun.customMetrics       -> model_run_custom_metrics(info, run id, dataset id, ...)

Additions to the contract (additive): ``AggregatedMetric.source`` (RUN for uploaded metrics,
PREDICTION for PredictionInput.customMetrics) and ``byConfidence``/``confusion`` on
``FeatureMetric`` and ``SubclassMetric``, so every level answers in the metric's own shape.
Semantics are documented in ``server/services/custom_metrics.py``.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from sliceboard.errors import InvalidInput, NotFound
from sliceboard.schema.context import Info
from sliceboard.schema.convert import to_plain_list
from sliceboard.schema.errors import InvalidInputError, NotFoundError, UpsertResult, error_payload
from sliceboard.schema.filters import ItemFilter, filter_to_dict
from sliceboard.services import custom_metrics as service


@strawberry.enum(
    description="How a custom metric aggregates at every level (confusion counts: SUM)."
)
class Aggregation(Enum):
    ARITHMETIC_MEAN = "ARITHMETIC_MEAN"
    GEOMETRIC_MEAN = "GEOMETRIC_MEAN"
    HARMONIC_MEAN = "HARMONIC_MEAN"
    SUM = "SUM"


@strawberry.enum(description="Where a custom metric's values come from.")
class CustomMetricSource(Enum):
    RUN = "RUN"  # uploadCustomMetrics
    PREDICTION = "PREDICTION"  # PredictionInput.customMetrics, aggregated with ARITHMETIC_MEAN


@strawberry.input
class ConfidenceValueInput:
    confidence: float
    value: float


@strawberry.input
class ConfusionCountsInput:
    tp: int
    fp: int
    tn: int
    fn: int


@strawberry.input(
    description="A ScalarMetric (value, or 2..15 valuesByConfidence) or a ConfusionMatrixMetric "
    "(confusion) on a data row, a feature of it, or a nested feature (featureName + subclassName)."
)
class CustomMetricInput:
    name: str
    reference_id: str
    feature_name: str | None = strawberry.UNSET
    subclass_name: str | None = strawberry.UNSET
    value: float | None = strawberry.UNSET
    values_by_confidence: list[ConfidenceValueInput] | None = strawberry.UNSET
    aggregation: Aggregation | None = Aggregation.ARITHMETIC_MEAN
    confusion: ConfusionCountsInput | None = strawberry.UNSET


@strawberry.type
class ConfidenceValue:
    confidence: float
    value: float | None


@strawberry.type
class ConfusionCounts:
    tp: int
    fp: int
    tn: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None


def _confidence_values(aggregate: service.Aggregate) -> list[ConfidenceValue] | None:
    if aggregate.by_confidence is None:
        return None
    return [ConfidenceValue(confidence=c, value=v) for c, v in aggregate.by_confidence]


def _confusion(aggregate: service.Aggregate) -> ConfusionCounts | None:
    c = aggregate.confusion
    if c is None:
        return None
    return ConfusionCounts(
        tp=c.tp, fp=c.fp, tn=c.tn, fn=c.fn, precision=c.precision, recall=c.recall, f1=c.f1
    )


@strawberry.type
class SubclassMetric:
    subclass_name: str
    value: float | None
    count: int
    by_confidence: list[ConfidenceValue] | None
    confusion: ConfusionCounts | None

    @classmethod
    def build(cls, sub: service.SubclassAggregate) -> SubclassMetric:
        a = sub.aggregate
        return cls(
            subclass_name=sub.subclass_name,
            value=a.value,
            count=a.count,
            by_confidence=_confidence_values(a),
            confusion=_confusion(a),
        )


@strawberry.type
class FeatureMetric:
    feature_name: str
    value: float | None
    count: int
    by_subclass: list[SubclassMetric]
    by_confidence: list[ConfidenceValue] | None
    confusion: ConfusionCounts | None

    @classmethod
    def build(cls, feature: service.FeatureAggregate) -> FeatureMetric:
        a = feature.aggregate
        return cls(
            feature_name=feature.feature_name,
            value=a.value,
            count=a.count,
            by_subclass=[SubclassMetric.build(s) for s in feature.subclasses],
            by_confidence=_confidence_values(a),
            confusion=_confusion(a),
        )


@strawberry.type(
    description="A custom metric over a slice: value (null for an empty slice), the data rows "
    "aggregated, and the same per feature and nested feature."
)
class AggregatedMetric:
    name: str
    aggregation: Aggregation
    source: CustomMetricSource
    value: float | None
    count: int
    by_confidence: list[ConfidenceValue] | None
    confusion: ConfusionCounts | None
    by_feature: list[FeatureMetric]

    @classmethod
    def build(cls, metric: service.MetricAggregate) -> AggregatedMetric:
        a = metric.aggregate
        return cls(
            name=metric.name,
            aggregation=Aggregation(metric.aggregation.value),
            source=CustomMetricSource(metric.source),
            value=a.value,
            count=a.count,
            by_confidence=_confidence_values(a),
            confusion=_confusion(a),
            by_feature=[FeatureMetric.build(f) for f in metric.features],
        )


UpsertPayload = Annotated[
    UpsertResult | InvalidInputError | NotFoundError, strawberry.union("UpsertPayload")
]


async def upload_custom_metrics(
    info: Info, model_run_id: strawberry.ID, metrics: list[CustomMetricInput]
) -> UpsertPayload:
    """``Mutation.uploadCustomMetrics``: one transaction; a rejected batch writes nothing."""
    runtime = info.context.runtime
    try:
        async with runtime.unit_of_work() as session:
            counts = await service.upload_custom_metrics(
                session,
                model_run_id=model_run_id,
                metrics=to_plain_list(metrics),
                max_rows=runtime.settings.max_batch_rows,
            )
    except (InvalidInput, NotFound) as exc:
        payload = error_payload(exc)
        assert isinstance(payload, InvalidInputError | NotFoundError)
        return payload
    return UpsertResult(new=counts.new, updated=counts.updated, ignored=counts.ignored)


async def model_run_custom_metrics(
    info: Info,
    model_run_id: int,
    dataset_id: int,
    filter: ItemFilter | None = None,
    slice_id: strawberry.ID | None = None,
    names: list[str] | None = None,
) -> list[AggregatedMetric]:
    """``ModelRun.customMetrics``: an unknown slice or a bad filter is a top-level error."""
    runtime = info.context.runtime
    async with runtime.reading() as session:
        metrics = await service.query_custom_metrics(
            session,
            cache=runtime.custom_metric_cache,
            model_run_id=model_run_id,
            dataset_id=dataset_id,
            filter=filter_to_dict(filter) if filter else None,
            slice_id=str(slice_id) if slice_id else None,
            names=names,
        )
    return [AggregatedMetric.build(m) for m in metrics]
