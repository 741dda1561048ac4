"""COCO summary numbers over a subset of classes, and one PR curve pooled over classes.

pycocotools restricts a summary to some classes by evaluating with ``catIds``; per-class cells
of the accumulated arrays do not depend on the other classes, so the same numbers come from
averaging the chosen columns of ``precision`` (T, R, K, A, M) and ``recall`` (T, K, A, M)
with its rule: the mean over cells that are not -1, or -1 when none is defined.
"""

from __future__ import annotations

import numpy as np

from server.evaluation.coco_metrics import CocoSummary
from server.evaluation.match_table import FALSE_POSITIVE, TRUE_POSITIVE, MatchTable
from server.evaluation.types import BoolArray, FloatArray, IntArray


def summary_stat(
    summary: CocoSummary,
    columns: IntArray,
    *,
    average_precision: bool,
    area: str = "all",
    max_detections: int | None = None,
    iou_threshold: float | None = None,
) -> float:
    """One of pycocotools' summary numbers over class columns ``columns`` (K',).

    Args:
        summary: accumulated arrays of a subset of items.
        columns: indices into the class axis K.
        average_precision: AP (from precision) or AR (from recall).
        area: area range name; max_detections: a maxDets value (largest when None);
        iou_threshold: one threshold (matched within 1e-9) or all when None.
    """
    a = summary.area_names.index(area)
    dets = [int(m) for m in summary.max_detections]
    m = dets.index(max_detections) if max_detections is not None else len(dets) - 1
    values: FloatArray
    if average_precision:
        values = summary.precision[:, :, columns, a, m]
    else:
        values = summary.recall[:, columns, a, m]
    if iou_threshold is not None:
        t = np.flatnonzero(np.abs(summary.iou_thresholds - iou_threshold) < 1e-9)
        values = values[t]
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else -1.0


def pooled_pr_curve(
    table: MatchTable,
    item_mask: BoolArray | None,
    iou_threshold: float,
    label_mask: BoolArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Precision/recall/confidence (N,) of all chosen labels' predictions ranked together.

    Points follow descending confidence (stable, so ties keep input order); recall is over the
    non-ignored ground truth of the chosen labels on the "all" area range.
    """
    row = table.row_index(iou_threshold, 0)
    dt_sel, gt_sel = table.item_selection(item_mask)
    state = table.dt_state[row]
    cls = table.dt_class_row(row)
    keep = dt_sel & ((state == TRUE_POSITIVE) | (state == FALSE_POSITIVE))
    gt_ignored = (
        table.gt_iscrowd
        | table.gt_ignore
        | (table.gt_area < table.area_low[0])
        | (table.gt_area > table.area_high[0])
    )
    gt_keep = gt_sel & ~gt_ignored
    if label_mask is not None:
        keep &= label_mask[cls]
        gt_keep &= label_mask[table.gt_label]
    chosen = np.flatnonzero(keep)
    order = chosen[np.argsort(-table.dt_score[chosen], kind="mergesort")]
    tp = np.cumsum(state[order] == TRUE_POSITIVE)
    fp = np.cumsum(state[order] == FALSE_POSITIVE)
    n_pos = int(gt_keep.sum())
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / n_pos if n_pos else np.zeros(order.shape[0])
    return recall.astype(np.float64), precision.astype(np.float64), table.dt_score[order]
