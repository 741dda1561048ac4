"""Paging through an evaluation's true/false positives and misses, and a prediction's match
(IoU and matched ground truth) at one IoU threshold."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from sliceboard.schema.context import Info
from sliceboard.schema.convert import given
from sliceboard.schema.evaluation.arguments import snapshot_cache
from sliceboard.schema.filters import ItemFilter, filter_to_dict
from sliceboard.schema.pagination import Edge, PageInfo, page_size
from sliceboard.schema.reading import read
from sliceboard.services.evaluation import browse
from sliceboard.storage import tables

if TYPE_CHECKING:
    from sliceboard.schema.types.annotation import (
        Annotation,
        AnnotationConnection,
        PredictionConnection,
    )


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


def needs_evaluation(
    prediction_filter: PredictionFilter | None, order_by: PredictionOrder | None
) -> bool:
    """Whether a ModelRun.predictions query needs match results (outcome, IoU) to answer."""
    if order_by is not None:
        return True
    if prediction_filter is None or prediction_filter is strawberry.UNSET:
        return False
    return given(prediction_filter.outcome) or given(prediction_filter.iou_range)


def page_info_of(page: browse.Page) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=page.start_cursor,
        end_cursor=page.end_cursor,
    )


async def total_of(value: int) -> int:
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
            snapshot_cache(info),
            run=run,
            filter=filter_to_dict(filter),
            labels=labels if given(labels) else None,
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
        page_info=page_info_of(page), edges=edges, count=lambda: total_of(page.total)
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
        if given(filter.outcome):
            plain["outcome"] = filter.outcome.value  # type: ignore[union-attr]
        if given(filter.labels):
            plain["labels"] = filter.labels
        for key, bounds in (
            ("iou_range", filter.iou_range),
            ("confidence_range", filter.confidence_range),
        ):
            if given(bounds):
                plain[key] = {
                    "min": bounds.min if given(bounds.min) else None,  # type: ignore[union-attr]
                    "max": bounds.max if given(bounds.max) else None,  # type: ignore[union-attr]
                }
        if given(filter.items):
            plain["items"] = filter_to_dict(filter.items)
    page = await read(
        info,
        lambda session: browse.browse_predictions(
            session,
            snapshot_cache(info),
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
        page_info=page_info_of(page), edges=edges, count=lambda: total_of(page.total)
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
