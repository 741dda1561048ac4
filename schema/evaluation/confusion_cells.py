"""ModelRun.confusionPredictions / confusionMisses: the rows behind one confusion-matrix cell,
so a frontend lists exactly what the cell counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from sliceboard.schema.context import Info
from sliceboard.schema.convert import given
from sliceboard.schema.evaluation.arguments import snapshot_cache
from sliceboard.schema.evaluation.browse import page_info_of, total_of
from sliceboard.schema.filters import ItemFilter, filter_to_dict
from sliceboard.schema.pagination import Edge, page_size
from sliceboard.schema.reading import read
from sliceboard.services.evaluation import browse
from sliceboard.services.evaluation.confusion_cells import browse_confusion_cell
from sliceboard.storage import tables

if TYPE_CHECKING:
    from sliceboard.schema.types.annotation import AnnotationConnection, PredictionConnection


async def _cell_page(
    info: Info,
    run: tables.ModelRun,
    *,
    filter: ItemFilter | None,
    slice_id: strawberry.ID | None,
    iou_threshold: float | None,
    confidence_threshold: float | None,
    ground_truth_label: str | None,
    prediction_label: str | None,
    first: int | None,
    after: str | None,
) -> browse.Page:
    limit = page_size(info, first)
    return await read(
        info,
        lambda session: browse_confusion_cell(
            session,
            snapshot_cache(info),
            run=run,
            filter=filter_to_dict(filter),
            slice_id=str(slice_id) if given(slice_id) else None,
            iou_threshold=0.5 if iou_threshold is None else iou_threshold,
            confidence_threshold=0.0 if confidence_threshold is None else confidence_threshold,
            ground_truth_label=ground_truth_label if given(ground_truth_label) else None,
            prediction_label=prediction_label,
            first=limit,
            after=after,
        ),
    )


async def confusion_predictions(
    info: Info,
    run: tables.ModelRun,
    *,
    ground_truth_label: str | None,
    prediction_label: str,
    filter: ItemFilter | None,
    slice_id: strawberry.ID | None,
    iou_threshold: float | None,
    confidence_threshold: float | None,
    first: int | None,
    after: str | None,
) -> Annotated[PredictionConnection, strawberry.lazy("sliceboard.schema.types.annotation")]:
    from sliceboard.schema.types.annotation import Prediction, PredictionConnection

    page = await _cell_page(
        info,
        run,
        filter=filter,
        slice_id=slice_id,
        iou_threshold=iou_threshold,
        confidence_threshold=confidence_threshold,
        ground_truth_label=ground_truth_label,
        prediction_label=prediction_label,
        first=first,
        after=after,
    )
    threshold = 0.5 if iou_threshold is None else iou_threshold
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


async def confusion_misses(
    info: Info,
    run: tables.ModelRun,
    *,
    ground_truth_label: str,
    filter: ItemFilter | None,
    slice_id: strawberry.ID | None,
    iou_threshold: float | None,
    confidence_threshold: float | None,
    first: int | None,
    after: str | None,
) -> Annotated[AnnotationConnection, strawberry.lazy("sliceboard.schema.types.annotation")]:
    from sliceboard.schema.types.annotation import Annotation, AnnotationConnection

    page = await _cell_page(
        info,
        run,
        filter=filter,
        slice_id=slice_id,
        iou_threshold=iou_threshold,
        confidence_threshold=confidence_threshold,
        ground_truth_label=ground_truth_label,
        prediction_label=None,
        first=first,
        after=after,
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
