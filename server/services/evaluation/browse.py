"""Paging through an evaluation's true/false positives and misses at one IoU threshold.

Offsets into a deterministic order of the immutable snapshot serve as cursors, so a cursor stays
valid for as long as the evaluation exists.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue
from sliceboard.evaluation import FALSE_POSITIVE, TRUE_POSITIVE, EvaluationInputError, MatchTable
from sliceboard.evaluation.sparse_rows import SparseRows
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


def _range_key(bounds: dict[str, Any] | None) -> tuple[Any, Any] | None:
    """What of ``bounds`` decides ``_range`` (None: it keeps everything)."""
    if not bounds or (bounds.get("min") is None and bounds.get("max") is None):
        return None
    return (bounds.get("min"), bounds.get("max"))


def _positions(values: np.ndarray, n: int) -> np.ndarray:
    """Positions into ``n`` rows, stored as int32 when they fit (half the cache's bytes)."""
    return values.astype(np.int32 if n < 2**31 else np.int64, copy=False)


def iou_key(table: MatchTable, t0: int) -> np.ndarray:
    """Each prediction's IoU with its matched ground truth on threshold row ``t0`` (0 when it
    matched none): float64 (P,), the IoU orders' key."""
    return np.where(table.dt_gt[t0] >= 0, table.dt_iou[t0].astype(np.float64), 0.0)


def prediction_order(
    table: MatchTable, row: int, outcome: str | None, order_by: str | None
) -> np.ndarray:
    """The predictions with ``outcome`` on ``row`` (every prediction when None), in the order a
    page lists them: by the ``order_by`` key with ties in position order (a stable sort), or in
    position order without one. (P',) int32 positions; computed once per evaluation and kept
    (``SnapshotCache.arrays``), so a request walks it instead of sorting."""
    n = table.dt_item.shape[0]
    if outcome == "TRUE_POSITIVE":
        positions = np.flatnonzero(table.dt_state[row] == TRUE_POSITIVE)
    elif outcome == "FALSE_POSITIVE":
        positions = np.flatnonzero(table.dt_state[row] == FALSE_POSITIVE)
    else:
        positions = np.arange(n, dtype=np.int64)
    if order_by in ("IOU_ASC", "IOU_DESC"):
        t0 = int(np.searchsorted(table.all_rows, row))
        iou = iou_key(table, t0)[positions]
        key = iou if order_by == "IOU_ASC" else -iou
    elif order_by in ("CONFIDENCE_ASC", "CONFIDENCE_DESC"):
        score = table.dt_score[positions]
        key = score if order_by == "CONFIDENCE_ASC" else -score
    else:
        return _positions(positions, n)
    return _positions(positions[np.argsort(key, kind="stable")], n)


def predictions_in_order(
    table: MatchTable,
    order: np.ndarray,
    row: int,
    item_mask: np.ndarray | None,
    label_mask: np.ndarray | None,
    iou_range: dict[str, Any] | None,
    confidence_range: dict[str, Any] | None,
) -> np.ndarray:
    """The entries of ``order`` (``prediction_order``) that the filters keep, in its order:
    a masked walk, the same as filtering every prediction and sorting the rest stably."""
    tests: list[Callable[[np.ndarray], np.ndarray]] = []
    if item_mask is not None:
        tests.append(lambda at: item_mask[table.dt_item[at]])
    if label_mask is not None:
        tests.append(lambda at: label_mask[table.dt_label[at]])
    if _range_key(confidence_range) is not None:
        tests.append(lambda at: _range(table.dt_score[at], confidence_range))
    if _range_key(iou_range) is not None:
        t0 = int(np.searchsorted(table.all_rows, row))
        tests.append(lambda at: _range(iou_key(table, t0)[at], iou_range))
    chosen = order
    for test in tests:  # each test reads only what the previous ones kept
        chosen = chosen[test(chosen)]
    return chosen


def missed_ground_truth(table: MatchTable, row: int) -> np.ndarray:
    """Ground truth no prediction matched on ``row`` (crowd/ignored regions excluded), in
    position order: (G',) int32 positions."""
    t0 = int(np.searchsorted(table.all_rows, row))
    keep = (table.gt_dt[t0] < 0) & ~table.gt_iscrowd & ~table.gt_ignore
    return _positions(np.flatnonzero(keep), table.gt_item.shape[0])


def misses_in_order(
    table: MatchTable,
    missed: np.ndarray,
    item_mask: np.ndarray | None,
    label_mask: np.ndarray | None,
) -> np.ndarray:
    """The entries of ``missed`` (``missed_ground_truth``) of the selected items and labels."""
    chosen = missed
    if item_mask is not None:
        chosen = chosen[item_mask[table.gt_item[chosen]]]
    if label_mask is not None:
        chosen = chosen[label_mask[table.gt_label[chosen]]]
    return chosen


def row_lookup(sparse: SparseRows, r: int) -> np.ndarray:
    """Row ``r`` of a sparse matrix made searchable: int64 (2, M_r), its stored columns
    ascending over the index of each one's entry (``SparseRows.col``/``value``)."""
    lo, hi = int(sparse.row_start[r]), int(sparse.row_start[r + 1])
    by_column = np.argsort(sparse.col[lo:hi], kind="stable")
    return np.stack([sparse.col[lo:hi][by_column], lo + by_column]).astype(np.int64)


def looked_up(sparse: SparseRows, lookup: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``sparse``'s values at ``cols`` on the row ``lookup`` (``row_lookup``) was made of:
    ``sparse[r][cols]`` at O(len(cols) log M_r), without a dense row of every column."""
    out = np.full(cols.shape[0], sparse.fill, dtype=sparse.value.dtype)
    stored = lookup[0]
    if stored.shape[0] == 0 or cols.shape[0] == 0:
        return out
    at = np.minimum(np.searchsorted(stored, cols), stored.shape[0] - 1)
    hit = stored[at] == cols
    out[hit] = sparse.value[lookup[1][at[hit]]]
    return out


async def matches_of(
    cache: SnapshotCache, evaluation_id: int, table: MatchTable, t0: int, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(matched ground-truth position or -1, IoU) of the predictions at ``positions`` on
    threshold row ``t0``, through the row's lookups (built once, kept with the snapshot)."""
    positions = np.asarray(positions, dtype=np.int64)
    gt_rows = await cache.arrays.get_or_build(
        (evaluation_id, "dt_gt lookup", t0), lambda: row_lookup(table.dt_gt, t0)
    )
    iou_rows = await cache.arrays.get_or_build(
        (evaluation_id, "dt_iou lookup", t0), lambda: row_lookup(table.dt_iou, t0)
    )
    return looked_up(table.dt_gt, gt_rows, positions), looked_up(table.dt_iou, iou_rows, positions)


def _labels_key(labels: list[str] | None) -> tuple[str, ...] | None:
    return None if labels is None else tuple(sorted(set(labels)))


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
    """Predictions of the visible evaluation at one IoU threshold, filtered and ordered.

    The order of each (threshold, outcome, key) is computed once and kept with the snapshot,
    and so is each filter's walk over it (keyed by the items' digest, the labels and the
    ranges): paging on costs a slice of a kept array, not a sort of every prediction.
    """
    evaluation_id, snapshot = await visible_snapshot(session, cache, run)
    check_threshold(snapshot, iou_threshold, "iouThreshold")
    filter = filter or {}
    table = snapshot.table
    selection = await selected_items(
        session, snapshot, run, filter.get("items"), None, cache=cache, evaluation_id=evaluation_id
    )
    row = table.row_index(iou_threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    outcome = filter.get("outcome")
    if outcome not in ("TRUE_POSITIVE", "FALSE_POSITIVE"):
        outcome = None
    if order_by not in ("IOU_ASC", "IOU_DESC", "CONFIDENCE_ASC", "CONFIDENCE_DESC"):
        order_by = None
    labels = filter.get("labels")
    iou_range, confidence_range = filter.get("iou_range"), filter.get("confidence_range")
    base = (evaluation_id, "predictions", row, outcome, order_by)
    order = await cache.arrays.get_or_build(
        base, lambda: prediction_order(table, row, outcome, order_by)
    )
    narrowing = (
        None if selection is None else selection.digest,
        _labels_key(labels),
        _range_key(iou_range),
        _range_key(confidence_range),
    )
    if narrowing != (None, None, None, None):
        mask = None if selection is None else selection.mask
        label_mask = selected_labels(snapshot, labels)
        order = await cache.arrays.get_or_build(
            (*base, *narrowing),
            lambda: predictions_in_order(
                table, order, row, mask, label_mask, iou_range, confidence_range
            ),
        )
    chosen, page = page_of(evaluation_id, order, snapshot.dt_ids, first, after)
    matched, ious = await matches_of(cache, evaluation_id, table, t0, chosen)
    for p, g, iou in zip(chosen.tolist(), matched.tolist(), ious.tolist(), strict=True):
        dt_id = int(snapshot.dt_ids[p])
        page.ious[dt_id] = float(iou) if g >= 0 else None
        page.matched[dt_id] = int(snapshot.gt_ids[g]) if g >= 0 else None
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
    row = table.row_index(iou_threshold, 0)
    base = (evaluation_id, "misses", row)
    missed = await cache.arrays.get_or_build(base, lambda: missed_ground_truth(table, row))
    narrowing = (None if selection is None else selection.digest, _labels_key(labels))
    if narrowing != (None, None):
        mask = None if selection is None else selection.mask
        label_mask = selected_labels(snapshot, labels)
        missed = await cache.arrays.get_or_build(
            (*base, *narrowing), lambda: misses_in_order(table, missed, mask, label_mask)
        )
    _, page = page_of(evaluation_id, missed, snapshot.gt_ids, first, after)
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
    evaluation_id = run.current_evaluation_id
    snapshot = await cache.get(session, evaluation_id)
    table = snapshot.table
    try:
        row = table.row_index(iou_threshold, 0)
    except EvaluationInputError:
        return {}
    t0 = int(np.searchsorted(table.all_rows, row))
    wanted = np.asarray(prediction_ids, dtype=np.int64)
    n = snapshot.dt_ids.shape[0]
    if n == 0 or wanted.shape[0] == 0:
        return {}
    at = np.minimum(np.searchsorted(snapshot.dt_ids, wanted), n - 1)
    present = snapshot.dt_ids[at] == wanted
    matched, ious = await matches_of(cache, evaluation_id, table, t0, at[present])
    out: dict[int, tuple[float | None, int | None]] = {}
    for dt_id, g, iou in zip(
        wanted[present].tolist(), matched.tolist(), ious.tolist(), strict=True
    ):
        out[dt_id] = (float(iou), int(snapshot.gt_ids[g])) if g >= 0 else (None, None)
    return out
