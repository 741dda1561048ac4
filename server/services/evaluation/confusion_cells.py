"""The objects behind one confusion-matrix cell, paged: a page can list exactly what a cell of
``ModelRun.metrics(...).confusionMatrix`` counts for the same slice and thresholds."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue
from sliceboard.evaluation import confusion_cell
from sliceboard.services.evaluation.browse import Page, page_of
from sliceboard.services.evaluation.cache import (
    SnapshotCache,
    check_threshold,
    selected_items,
    visible_snapshot,
)
from sliceboard.storage.tables import ModelRun


async def browse_confusion_cell(
    session: AsyncSession,
    cache: SnapshotCache,
    *,
    run: ModelRun,
    filter: dict[str, Any] | None,
    slice_id: str | None,
    iou_threshold: float,
    confidence_threshold: float,
    ground_truth_label: str | None,
    prediction_label: str | None,
    first: int,
    after: str | None,
) -> Page:
    """Predictions of cell [ground_truth_label, prediction_label] (None: the background row),
    by descending confidence, or with ``prediction_label`` None the misses of the background
    column. Page ids are prediction or annotation row ids; a label the evaluation does not
    know selects nothing."""
    evaluation_id, snapshot = await visible_snapshot(session, cache, run)
    check_threshold(snapshot, iou_threshold, "iouThreshold")
    if not math.isfinite(confidence_threshold):
        raise InvalidInput([Issue("confidenceThreshold", "must be a finite number")])
    if ground_truth_label is None and prediction_label is None:
        raise InvalidInput(
            [Issue("groundTruthLabel", "the background row and column share no cell")]
        )
    selection = await selected_items(
        session, snapshot, run, filter, slice_id, cache=cache, evaluation_id=evaluation_id
    )
    names = list(snapshot.label_names)
    background = len(names)

    def index(label: str | None) -> int | None:
        if label is None:
            return background
        return names.index(label) if label in names else None

    row, column = index(ground_truth_label), index(prediction_label)
    if row is None or column is None:
        empty = np.zeros(0, dtype=np.int64)
        return page_of(evaluation_id, empty, empty, first, after)[1]
    cell = confusion_cell(
        snapshot.table,
        None if selection is None else selection.mask,
        iou_threshold,
        confidence_threshold,
        row,
        column,
    )
    if column == background:
        return page_of(evaluation_id, cell.ground_truths, snapshot.gt_ids, first, after)[1]
    return page_of(evaluation_id, cell.predictions, snapshot.dt_ids, first, after)[1]
