"""Paging through an evaluation's true/false positives and misses at one IoU threshold.

Offsets into a deterministic order of the immutable snapshot serve as cursors, so a cursor stays
valid for as long as the evaluation exists.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue
from sliceboard.evaluation import FALSE_POSITIVE, TRUE_POSITIVE, EvaluationInputError
from sliceboard.services.evaluation.cache import (
    SnapshotCache,
    check_threshold,
    selected_items,
    selected_labels,
    visible_snapshot,
)
from sliceboard.storage.tables import ModelRun


@dataclass(frozen=True)
class Page:
    evaluation_id: int
    start: int
    ids: list[int]
    total: int
    has_next: bool
    has_previous: bool
    start_cursor: str | None
    end_cursor: str | None
    ious: dict[int, float | None] = field(default_factory=dict)
    matched: dict[int, int | None] = field(default_factory=dict)


def _cursor(evaluation_id: int, offset: int) -> str:
    return base64.urlsafe_b64encode(f"e{evaluation_id}:{offset}".encode()).decode()


def _offset(evaluation_id: int, after: str | None) -> int:
    if after is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(after.encode()).decode()
        tag, offset = text.split(":")
        if tag != f"e{evaluation_id}":
            raise ValueError
        return int(offset) + 1
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            [Issue("after", "cursor does not belong to this evaluation's results")]
        ) from exc


def page_of(
    evaluation_id: int, ordered: np.ndarray, ids: np.ndarray, first: int, after: str | None
) -> tuple[np.ndarray, Page]:
    start = _offset(evaluation_id, after)
    chosen = ordered[start : start + first]
    page = Page(
        evaluation_id=evaluation_id,
        start=start,
        ids=[int(i) for i in ids[chosen]],
        total=int(ordered.shape[0]),
        has_next=start + first < ordered.shape[0],
        has_previous=start > 0,
        start_cursor=_cursor(evaluation_id, start) if chosen.size else None,
        end_cursor=_cursor(evaluation_id, start + chosen.shape[0] - 1) if chosen.size else None,
    )
    return chosen, page


def position_cursor(page: Page, k: int) -> str:
    """The cursor of the ``k``-th row of ``page``."""
    return _cursor(page.evaluation_id, page.start + k)


def _range(values: np.ndarray, bounds: dict[str, Any] | None) -> np.ndarray:
    keep = np.ones(values.shape[0], dtype=bool)
    if bounds:
        if bounds.get("min") is not None:
            keep &= values >= bounds["min"]
        if bounds.get("max") is not None:
            keep &= values <= bounds["max"]
    return keep


async def browse_predictions(
    session: AsyncSession,
    cache: SnapshotCache,
    *,
    run: ModelRun,
    filter: dict[str, Any] | None,
    order_by: str | None,
    iou_threshold: float,
    first: int,
    after: str | None,
) -> Page:
    """Predictions of the visible evaluation at one IoU threshold, filtered and ordered."""
    evaluation_id, snapshot = await visible_snapshot(session, cache, run)
    check_threshold(snapshot, iou_threshold, "iouThreshold")
    filter = filter or {}
    table = snapshot.table
    selection = await selected_items(
        session, snapshot, run, filter.get("items"), None, cache=cache, evaluation_id=evaluation_id
    )
    mask = None if selection is None else selection.mask
    row = table.row_index(iou_threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    state = table.dt_state[row]
    matched = table.dt_gt[t0]
    iou = np.where(matched >= 0, table.dt_iou[t0].astype(np.float64), 0.0)
    keep, _ = table.item_selection(mask)
    outcome = filter.get("outcome")
    if outcome == "TRUE_POSITIVE":
        keep = keep & (state == TRUE_POSITIVE)
    elif outcome == "FALSE_POSITIVE":
        keep = keep & (state == FALSE_POSITIVE)
    label_mask = selected_labels(snapshot, filter.get("labels"))
    if label_mask is not None:
        keep &= label_mask[table.dt_label]
    keep &= _range(iou, filter.get("iou_range")) & _range(
        table.dt_score, filter.get("confidence_range")
    )
    positions = np.flatnonzero(keep)
    key = {
        "IOU_ASC": iou, "IOU_DESC": -iou,
        "CONFIDENCE_ASC": table.dt_score, "CONFIDENCE_DESC": -table.dt_score,
    }.get(order_by or "")  # fmt: skip
    if key is not None:
        positions = positions[np.argsort(key[positions], kind="stable")]
    chosen, page = page_of(evaluation_id, positions, snapshot.dt_ids, first, after)
    for p in chosen:
        dt_id = int(snapshot.dt_ids[p])
        page.ious[dt_id] = float(iou[p]) if matched[p] >= 0 else None
        page.matched[dt_id] = int(snapshot.gt_ids[matched[p]]) if matched[p] >= 0 else None
    return page


async def browse_false_negatives(
    session: AsyncSession,
    cache: SnapshotCache,
    *,
    run: ModelRun,
    filter: dict[str, Any] | None,
    labels: list[str] | None,
    iou_threshold: float,
    first: int,
    after: str | None,
) -> Page:
    """Ground truth no prediction matched at ``iou_threshold`` (crowd/ignored regions excluded)."""
    evaluation_id, snapshot = await visible_snapshot(session, cache, run)
    check_threshold(snapshot, iou_threshold, "iouThreshold")
    table = snapshot.table
    selection = await selected_items(
        session, snapshot, run, filter, None, cache=cache, evaluation_id=evaluation_id
    )
    mask = None if selection is None else selection.mask
    row = table.row_index(iou_threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    _, keep = table.item_selection(mask)
    keep = keep & (table.gt_dt[t0] < 0) & ~table.gt_iscrowd & ~table.gt_ignore
    label_mask = selected_labels(snapshot, labels)
    if label_mask is not None:
        keep &= label_mask[table.gt_label]
    _, page = page_of(evaluation_id, np.flatnonzero(keep), snapshot.gt_ids, first, after)
    return page


async def prediction_matches(
    session: AsyncSession,
    cache: SnapshotCache,
    *,
    run: ModelRun,
    prediction_ids: list[int],
    iou_threshold: float = 0.5,
) -> dict[int, tuple[float | None, int | None]]:
    """(IoU, matched annotation row id) of predictions in the visible evaluation; predictions
    uploaded after it are absent."""
    if run.current_evaluation_id is None:
        return {}
    snapshot = await cache.get(session, run.current_evaluation_id)
    table = snapshot.table
    try:
        row = table.row_index(iou_threshold, 0)
    except EvaluationInputError:
        return {}
    t0 = int(np.searchsorted(table.all_rows, row))
    wanted = np.asarray(prediction_ids, dtype=np.int64)
    at = np.searchsorted(snapshot.dt_ids, wanted)
    at = np.minimum(at, max(snapshot.dt_ids.shape[0] - 1, 0))
    out: dict[int, tuple[float | None, int | None]] = {}
    for dt_id, p in zip(wanted.tolist(), at.tolist(), strict=True):
        if snapshot.dt_ids.shape[0] == 0 or snapshot.dt_ids[p] != dt_id:
            continue
        g = int(table.dt_gt[t0, p])
        out[dt_id] = (
            (float(table.dt_iou[t0, p]), int(snapshot.gt_ids[g])) if g >= 0 else (None, None)
        )
    return out
