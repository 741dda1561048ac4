"""evaluate(): candidate pairs -> matching on every row -> the match table.

Rows are every (area range, IoU threshold) of ``options.iou_thresholds`` plus
the ``extra_iou_thresholds`` on the "all" range. One matching pass covers all
rows; a second, class-agnostic pass over the left-overs of the "all" rows
pairs false positives with missed ground truths of other labels for the
confusion matrix. See :mod:`sliceboard.evaluation.match_table` for the output.
"""

from __future__ import annotations

import numpy as np

from sliceboard.evaluation.candidates import Candidates, build_candidates, gt_ignored_rows
from sliceboard.evaluation.geometry.kernel import Similarity
from sliceboard.evaluation.match_table import (
    FALSE_POSITIVE,
    IGNORED,
    NOT_EVALUATED,
    TRUE_POSITIVE,
    MatchTable,
)
from sliceboard.evaluation.matching import (
    Matches,
    effective_thresholds,
    match_by_confidence,
    match_by_iou,
)
from sliceboard.evaluation.sparse_rows import SparseRows
from sliceboard.evaluation.types import (
    BoolArray,
    EvaluationInputError,
    FloatArray,
    GroundTruth,
    IntArray,
    Matching,
    MatchOptions,
    Predictions,
)


def _check_indices(values: IntArray, bound: int, name: str) -> None:
    if values.shape[0] and (values.min() < 0 or values.max() >= bound):
        raise EvaluationInputError(f"{name} must lie in [0, {bound})")


def _rows(options: MatchOptions) -> tuple[IntArray, FloatArray]:
    areas: list[int] = []
    thresholds: list[float] = []
    for a in range(len(options.area_ranges)):
        for t in options.iou_thresholds:
            areas.append(a)
            thresholds.append(t)
    for t in options.extra_iou_thresholds:
        if not any(abs(t - u) < 1e-9 for u in options.iou_thresholds):
            areas.append(0)
            thresholds.append(t)
    return np.array(areas, dtype=np.int64), np.array(thresholds, dtype=np.float64)


def _match(
    cand: Candidates,
    options: MatchOptions,
    thresholds: FloatArray,
    gt_ignored: BoolArray,
    gt_crowd: BoolArray,
    dt_active: BoolArray | None = None,
    gt_taken: BoolArray | None = None,
) -> Matches:
    if options.matching is Matching.IOU_GREEDY:
        return match_by_iou(
            cand, thresholds, gt_ignored, gt_crowd, dt_active=dt_active, gt_taken=gt_taken
        )
    return match_by_confidence(
        cand,
        thresholds,
        gt_ignored,
        gt_crowd,
        no_fallback=options.matching is Matching.NO_FALLBACK,
        dt_active=dt_active,
        gt_taken=gt_taken,
    )


def evaluate(
    gt: GroundTruth,
    dt: Predictions,
    similarity: Similarity,
    n_items: int,
    n_labels: int,
    options: MatchOptions | None = None,
    *,
    confusion: bool = True,
) -> MatchTable:
    """Matches predictions to ground truths on every row and tabulates the outcome.

    Args:
        gt: G ground truths (item, label, area, iscrowd, ignore).
        dt: P predictions (item, label, score, area).
        similarity: kernel scoring (dt row, gt row, crowd) pairs, e.g.
            :func:`sliceboard.evaluation.geometry.boxes.box_similarity`.
        n_items: number of items; ``item`` values lie in [0, n_items).
        n_labels: number of labels; ``label`` values lie in [0, n_labels).
        options: matching options (pycocotools' bbox defaults when None).
        confusion: also run the cross-label pass for confusion matrices (without
            it, confusion matrices put every miss in the background row/column).

    Returns:
        :class:`MatchTable` with R rows, P predictions and G ground truths.

    Raises:
        EvaluationInputError: indices out of range or invalid options.
    """
    options = options or MatchOptions()
    options.validate()
    _check_indices(gt.item, n_items, "gt.item")
    _check_indices(dt.item, n_items, "dt.item")
    _check_indices(gt.label, n_labels, "gt.label")
    _check_indices(dt.label, n_labels, "dt.label")

    row_area, row_threshold = _rows(options)
    low = np.array([r[1] for r in options.area_ranges], dtype=np.float64)
    high = np.array([r[2] for r in options.area_ranges], dtype=np.float64)
    cross_label = options.class_agnostic or bool(options.allowed_label_matches)
    min_iou = float(effective_thresholds(row_threshold).min())

    cand = build_candidates(
        gt,
        dt,
        similarity,
        n_labels=n_labels,
        class_agnostic=options.class_agnostic,
        allowed=options.allowed_label_matches,
        max_dets=max(options.max_detections),
        min_iou=min_iou,
    )
    gt_ignored = gt_ignored_rows(gt, low[row_area], high[row_area])
    matches = _match(cand, options, row_threshold, gt_ignored, gt.iscrowd)

    n_rows, n_dt, n_gt = row_threshold.shape[0], len(dt), len(gt)
    # Flat indices with np.take/np.put: several times faster than 2-D fancy indexing.
    m_flat = np.multiply(matches.row, n_dt, dtype=np.int64)
    m_flat += matches.dt_row

    outside = (dt.area[None, :] < low[:, None]) | (dt.area[None, :] > high[:, None])
    state_by_area = np.where(outside, np.int8(IGNORED), np.int8(FALSE_POSITIVE))
    evaluated = np.zeros(n_dt, dtype=bool)
    evaluated[cand.dt_order] = True
    state_by_area[:, ~evaluated] = NOT_EVALUATED
    dt_state = state_by_area[row_area]
    np.put(dt_state, m_flat, np.where(matches.to_ignored, np.int8(IGNORED), np.int8(TRUE_POSITIVE)))

    all_rows = np.flatnonzero(row_area == 0)
    all_position = np.full(n_rows, -1, dtype=np.int32)
    all_position[all_rows] = np.arange(all_rows.shape[0])
    t_all = np.take(all_position, matches.row)
    in_all = t_all >= 0
    t, a_dt, a_gt = t_all[in_all], matches.dt_row[in_all], matches.gt_row[in_all]
    detail_shape = (int(all_rows.shape[0]), n_dt)
    dt_gt = SparseRows.from_entries(t, a_dt, a_gt, detail_shape, -1)
    dt_iou = SparseRows.from_entries(
        t, a_dt, np.take(cand.pair_iou, matches.pair[in_all]).astype(np.float32), detail_shape, 0.0
    )
    gt_dt = np.full((all_rows.shape[0], n_gt), -1, dtype=np.int32)
    regular = ~gt.iscrowd[a_gt]
    np.put(gt_dt, np.multiply(t[regular], n_gt, dtype=np.int64) + a_gt[regular], a_dt[regular])

    dt_class = np.zeros((0, n_dt), dtype=np.int32)
    if cross_label:
        dt_class = np.broadcast_to(dt.label.astype(np.int32), (n_rows, n_dt)).copy()
        np.put(dt_class, m_flat, np.take(gt.label, matches.gt_row))

    no_entries = np.zeros(0, dtype=np.int64)
    dt_confused_gt = SparseRows.from_entries(
        no_entries, no_entries, no_entries.astype(np.int32), (0, n_dt), -1
    )
    if confusion:
        dt_confused_gt = _confusion_pass(
            gt,
            dt,
            similarity,
            options,
            n_labels,
            row_threshold[all_rows],
            dt_state[all_rows] == FALSE_POSITIVE,
            (gt_dt < 0) & ~gt_ignored[all_rows],
        )

    return MatchTable(
        n_items=int(n_items),
        n_labels=int(n_labels),
        n_grid=len(options.iou_thresholds),
        class_agnostic=options.class_agnostic,
        matching=options.matching.value,
        empty_classes=options.empty_classes.value,
        max_detections=np.array(sorted(options.max_detections), dtype=np.int64),
        area_names=np.array([r[0] for r in options.area_ranges], dtype=np.str_),
        area_low=low,
        area_high=high,
        row_area=row_area,
        row_threshold=row_threshold,
        dt_item=dt.item,
        dt_label=dt.label,
        dt_score=dt.score,
        dt_rank=cand.dt_rank,
        dt_metric_order=(
            cand.metric_order
            if cand.metric_order is not None
            else MatchTable.metric_order_from(cand.dt_order, dt.label, dt.score)
        ),
        dt_state=dt_state,
        dt_gt=dt_gt,
        dt_iou=dt_iou,
        dt_confused_gt=dt_confused_gt,
        dt_class=dt_class,
        gt_item=gt.item,
        gt_label=gt.label,
        gt_area=gt.area,
        gt_iscrowd=gt.iscrowd,
        gt_ignore=gt.ignore,
        gt_dt=gt_dt,
    )


def _confusion_pass(
    gt: GroundTruth,
    dt: Predictions,
    similarity: Similarity,
    options: MatchOptions,
    n_labels: int,
    thresholds: FloatArray,
    false_positive: BoolArray,
    missed: BoolArray,
) -> SparseRows:
    """Cross-label matching of false positives (T0, P) and missed gts (T0, G): (T0, P)."""
    shape = (int(thresholds.shape[0]), len(dt))
    none = np.zeros(0, dtype=np.int64)
    gt_rows = np.flatnonzero(missed.any(axis=0))
    item_has_miss = np.zeros(int(max(dt.item.max(initial=0), gt.item.max(initial=0))) + 1, bool)
    item_has_miss[gt.item[gt_rows]] = True
    dt_rows = np.flatnonzero(false_positive.any(axis=0) & item_has_miss[dt.item])
    if dt_rows.shape[0] == 0 or gt_rows.shape[0] == 0 or n_labels < 2:
        return SparseRows.from_entries(none, none, none.astype(np.int32), shape, -1)
    sub_gt = GroundTruth(
        item=gt.item[gt_rows],
        label=gt.label[gt_rows],
        area=gt.area[gt_rows],
        iscrowd=gt.iscrowd[gt_rows],
        ignore=gt.ignore[gt_rows],
    )
    sub_dt = Predictions(
        item=dt.item[dt_rows],
        label=dt.label[dt_rows],
        score=dt.score[dt_rows],
        area=dt.area[dt_rows],
    )

    def sub_similarity(dt_index: IntArray, gt_index: IntArray, gt_crowd: BoolArray) -> FloatArray:
        return similarity(dt_rows[dt_index], gt_rows[gt_index], gt_crowd)

    cand = build_candidates(
        sub_gt,
        sub_dt,
        sub_similarity,
        n_labels=n_labels,
        class_agnostic=True,
        allowed=options.allowed_label_matches,
        max_dets=np.iinfo(np.int64).max,
        min_iou=float(effective_thresholds(thresholds).min()),
        exclude_same_label=True,
    )
    matches = _match(
        cand,
        options,
        thresholds,
        np.zeros((thresholds.shape[0], gt_rows.shape[0]), dtype=bool),
        np.zeros(gt_rows.shape[0], dtype=bool),
        dt_active=false_positive[:, dt_rows][:, cand.dt_order],
        gt_taken=~missed[:, gt_rows],
    )
    return SparseRows.from_entries(
        matches.row,
        dt_rows[matches.dt_row],
        gt_rows[matches.gt_row].astype(np.int32),
        shape,
        -1,
    )
