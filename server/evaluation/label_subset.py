"""COCO summary numbers over a subset of classes, and one PR curve pooled over classes.

pycocotools restricts a summary to some classes by evaluating with ``catIds``; per-class cells
of the accumulated arrays do not depend on the other classes, so the same numbers come from
averaging the chosen columns of ``precision`` (T, R, K, A, M) and ``recall`` (T, K, A, M)
with its rule: the mean over cells that are not -1, or -1 when none is defined.
"""

from __future__ import annotations

import numpy as np

from sliceboard.evaluation.coco_metrics import CocoSummary
from sliceboard.evaluation.match_table import FALSE_POSITIVE, TRUE_POSITIVE, MatchTable
from sliceboard.evaluation.types import BoolArray, FloatArray, IntArray


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
    if average_precision:  # its M axis may hold the last maxDets alone (all_precision=False)
        values = summary.precision[:, :, columns, a, m - len(dets) + summary.precision.shape[-1]]
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
    dt_rows, gt_rows = table.item_rows(item_mask)
    state = table.dt_state[row, dt_rows]
    keep = (state == TRUE_POSITIVE) | (state == FALSE_POSITIVE)
    chosen, state = dt_rows[keep], state[keep]
    if table.dt_index.order is not None:  # rows grouped by item: ties go by row, as documented
        by_row = np.argsort(chosen)
        chosen, state = chosen[by_row], state[by_row]
    gt_ignored = (
        table.gt_iscrowd[gt_rows]
        | table.gt_ignore[gt_rows]
        | (table.gt_area[gt_rows] < table.area_low[0])
        | (table.gt_area[gt_rows] > table.area_high[0])
    )
    gt_keep = gt_rows[~gt_ignored]
    if label_mask is not None:
        cls = table.dt_class[row, chosen] if table.dt_class.shape[0] else table.dt_label[chosen]
        labelled = label_mask[cls]
        chosen, state = chosen[labelled], state[labelled]
        gt_keep = gt_keep[label_mask[table.gt_label[gt_keep]]]
    order = np.argsort(-table.dt_score[chosen], kind="mergesort")
    chosen, state = chosen[order], state[order]
    tp = np.cumsum(state == TRUE_POSITIVE)
    fp = np.cumsum(state == FALSE_POSITIVE)
    n_pos = int(gt_keep.shape[0])
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / n_pos if n_pos else np.zeros(chosen.shape[0])
    return recall.astype(np.float64), precision.astype(np.float64), table.dt_score[chosen]
