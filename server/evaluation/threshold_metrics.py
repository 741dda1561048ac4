"""Counts, precision/recall/F1, PR curves and confusion at one IoU threshold.

Everything reads the "all"-area row of the chosen IoU threshold of the match
table and counts objects of the selected items:

- TP: a prediction with score >= the confidence threshold that matched a
  non-ignored ground truth; counted in that ground truth's label.
- FP: such a prediction that matched nothing; counted in its own label.
- FN: a non-ignored ground truth without a TP above the threshold.
  Predictions absorbed by crowd/ignored regions and predictions beyond maxDets
  count as nothing. Counting after the full matching equals matching only the
  kept predictions under the confidence protocol (pycocotools' order).
- precision = TP/(TP+FP), recall = TP/(TP+FN), F1 their harmonic mean; -1
  where a ratio is undefined (no prediction / no ground truth).
- PR curve per label: one point per distinct score, the point at score s
  counting every prediction with score >= s.
- Confusion matrix (L+1, L+1): rows are ground-truth labels, columns
  predicted labels, index L is background. A false positive that overlaps a
  missed ground truth of another label (found by the engine's class-agnostic
  pass over left-overs, at confidence 0) lands in [gt label, predicted label]
  instead of the background row; remaining misses go to the background column.

Shapes: K selected labels, L all labels, N curve points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sliceboard.evaluation.match_table import FALSE_POSITIVE, TRUE_POSITIVE, MatchTable
from sliceboard.evaluation.types import BoolArray, EvaluationInputError, FloatArray, IntArray


@dataclass(frozen=True)
class Counts:
    """TP/FP/FN and the derived ratios; arrays (K,) per label or scalars overall."""

    tp: IntArray
    fp: IntArray
    fn: IntArray
    precision: FloatArray
    recall: FloatArray
    f1: FloatArray


@dataclass(frozen=True)
class PRCurve:
    """Flat PR points of all labels, sorted by (label, descending confidence): (N,)."""

    label: IntArray
    confidence: FloatArray
    precision: FloatArray
    recall: FloatArray


@dataclass(frozen=True)
class ThresholdMetrics:
    """Metrics at one (IoU, confidence) threshold for a subset of items.

    Attributes:
        iou_threshold: the stored threshold used (e.g. 0.8999999999999999).
        confidence_threshold: predictions below it are dropped.
        labels: int64 (K,) label indices of ``per_label``.
        per_label: :class:`Counts` with (K,) arrays.
        overall: :class:`Counts` with 0-d arrays, micro-averaged over ``labels``.
        pr_curve: :class:`PRCurve` of the ``labels``.
        confusion: int64 (L+1, L+1), rows ground truth, columns prediction,
            last row/column background.
    """

    iou_threshold: float
    confidence_threshold: float
    labels: IntArray
    per_label: Counts
    overall: Counts
    pr_curve: PRCurve
    confusion: IntArray


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), -1.0)


def counts(tp: IntArray, fp: IntArray, fn: IntArray) -> Counts:
    """Derives precision, recall and F1 from counts (any matching shapes)."""
    tp_f, fp_f, fn_f = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    precision = _ratio(tp_f, tp_f + fp_f)
    recall = _ratio(tp_f, tp_f + fn_f)
    both = (precision >= 0) & (recall >= 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = np.where(
            precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0
        )
    f1 = np.where(both, harmonic, -1.0)
    return Counts(
        tp=np.asarray(tp, dtype=np.int64),
        fp=np.asarray(fp, dtype=np.int64),
        fn=np.asarray(fn, dtype=np.int64),
        precision=precision,
        recall=recall,
        f1=f1,
    )


def _pr_curve(
    table: MatchTable,
    chosen: IntArray,
    is_tp: BoolArray,
    cls: IntArray,
    npig: IntArray,
    keep_label: BoolArray,
) -> PRCurve:
    if not bool(keep_label.all()):
        sel = keep_label[cls]
        chosen, is_tp, cls = chosen[sel], is_tp[sel], cls[sel]
    # Any order by (class, -score) gives the same points: each point is the end
    # of a (class, score) run, whose counts do not depend on the order inside it.
    if table.dt_class.shape[0] == 0:  # classes are labels: the stored order sorts them
        # (position, is_tp) packed in one key: a plain sort instead of an argsort
        keys = np.sort(table.dt_metric_position[chosen].astype(np.int64) * 2 + is_tp)
        is_tp = (keys & 1).astype(bool)
        positions = keys >> 1
        cls = table.metric_label[positions].astype(np.int64)
        score = table.dt_score[table.dt_metric_order[positions]]
    else:
        order = np.lexsort((-table.dt_score[chosen], cls))
        is_tp, cls = is_tp[order], cls[order]
        score = table.dt_score[chosen[order]]
    n = cls.shape[0]
    tp_cum = np.cumsum(is_tp, dtype=np.int64)
    # One point per distinct score: the last entry of each (label, score) run.
    last = np.flatnonzero(np.r_[(cls[1:] != cls[:-1]) | (score[1:] != score[:-1]), n > 0])
    cls_l = cls[last]
    class_start = np.searchsorted(cls, np.arange(npig.shape[0]))
    tp_before = np.where(class_start > 0, tp_cum[np.maximum(class_start - 1, 0)], 0) if n else 0
    tp_l = (tp_cum[last] - np.take(tp_before, cls_l)).astype(np.float64)
    seen_l = (last + 1 - class_start[cls_l]).astype(np.float64)
    return PRCurve(
        label=cls_l,
        confidence=score[last],
        precision=tp_l / np.maximum(seen_l, 1),
        recall=_ratio(tp_l, npig[cls_l].astype(np.float64)),
    )


def _counted_ground_truth(table: MatchTable, gt_rows: IntArray) -> IntArray:
    """The rows of ``gt_rows`` that count: not crowd, not ignored, inside the "all" area."""
    ignored = (
        table.gt_iscrowd[gt_rows]
        | table.gt_ignore[gt_rows]
        | (table.gt_area[gt_rows] < table.area_low[0])
        | (table.gt_area[gt_rows] > table.area_high[0])
    )
    counted: IntArray = gt_rows[~ignored]
    return counted


def threshold_metrics(
    table: MatchTable,
    item_mask: BoolArray | None = None,
    iou_threshold: float = 0.5,
    confidence_threshold: float = 0.0,
    labels: Sequence[int] | None = None,
) -> ThresholdMetrics:
    """Counts and curves at one IoU and confidence threshold.

    Args:
        table: the match table.
        item_mask: bool (n_items,) items to include (all when None).
        iou_threshold: one of the evaluated thresholds (0.05 grid 0.05..0.95 by
            default); matched within 1e-9, so 0.9 finds 0.8999999999999999.
        confidence_threshold: predictions with a lower score are dropped.
        labels: label indices to report and to micro-average (all when None).

    Returns:
        :class:`ThresholdMetrics`.

    Raises:
        EvaluationInputError: unknown threshold, label or mask length.
    """
    row = table.row_index(iou_threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    n_labels = table.n_labels
    label_list = (
        np.arange(n_labels, dtype=np.int64)
        if labels is None
        else np.asarray(labels, dtype=np.int64)
    )
    if label_list.shape[0] and (label_list.min() < 0 or label_list.max() >= n_labels):
        raise EvaluationInputError(f"labels must lie in [0, {n_labels})")
    keep_label = np.zeros(n_labels, dtype=bool)
    keep_label[label_list] = True

    dt_rows, gt_rows = table.item_rows(item_mask)
    state = table.dt_state[row, dt_rows]
    counted = (state == TRUE_POSITIVE) | (state == FALSE_POSITIVE)
    chosen = dt_rows[counted]
    is_tp = state[counted] == TRUE_POSITIVE
    cls = (
        table.dt_class[row, chosen].astype(np.int64)
        if table.dt_class.shape[0]
        else table.dt_label[chosen]
    )
    gt_counted = _counted_ground_truth(table, gt_rows)
    npig = np.bincount(table.gt_label[gt_counted], minlength=n_labels)

    curve = _pr_curve(table, chosen, is_tp, cls, npig, keep_label)

    above = table.dt_score[chosen] >= confidence_threshold
    tp_sel = above & is_tp
    fp_sel = above & ~is_tp
    tp = np.bincount(cls[tp_sel], minlength=n_labels)
    fp = np.bincount(cls[fp_sel], minlength=n_labels)
    fn = npig - tp
    per_label = counts(tp[label_list], fp[label_list], fn[label_list])
    overall = counts(tp[label_list].sum(), fp[label_list].sum(), fn[label_list].sum())

    confusion = _confusion(table, t0, chosen[tp_sel], chosen[fp_sel], gt_counted)
    return ThresholdMetrics(
        iou_threshold=float(table.row_threshold[row]),
        confidence_threshold=float(confidence_threshold),
        labels=label_list,
        per_label=per_label,
        overall=overall,
        pr_curve=curve,
        confusion=confusion,
    )


def _confusion_codes(
    table: MatchTable, t0: int, tp_idx: IntArray, fp_idx: IntArray, gt_counted: IntArray
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Where each counted object lands in the (L+1, L+1) matrix, as ``row * (L+1) + column``.

    Returns (prediction rows, their cells, missed ground-truth rows, their cells); the
    prediction rows are ``tp_idx`` then ``fp_idx``.
    """
    n_labels = table.n_labels
    size = n_labels + 1
    matched = table.dt_gt.take(t0, tp_idx)
    tp_codes = table.gt_label[matched] * size + table.dt_label[tp_idx]
    partner = (
        table.dt_confused_gt.take(t0, fp_idx)
        if table.dt_confused_gt.shape[0]
        else np.full(fp_idx.shape[0], -1, dtype=np.int32)
    )
    gt_row = np.append(table.gt_label, n_labels)[partner]  # partner -1 -> background
    fp_codes = gt_row * size + table.dt_label[fp_idx]

    explained = np.zeros(table.gt_label.shape[0], dtype=bool)
    explained[matched] = True
    explained[partner[partner >= 0]] = True
    missed = gt_counted[~explained[gt_counted]]
    gt_codes = table.gt_label[missed] * size + n_labels
    dt_rows = np.concatenate([tp_idx, fp_idx]).astype(np.int64)
    dt_codes = np.concatenate([tp_codes, fp_codes]).astype(np.int64)
    return dt_rows, dt_codes, missed.astype(np.int64), gt_codes.astype(np.int64)


def _confusion(
    table: MatchTable, t0: int, tp_idx: IntArray, fp_idx: IntArray, gt_counted: IntArray
) -> IntArray:
    """(L+1, L+1) counts: rows ground truth, columns prediction, index L background.

    ``tp_idx``/``fp_idx``: counted TPs/FPs above the confidence threshold;
    ``gt_counted``: the non-ignored ground truths of the slice.
    """
    size = table.n_labels + 1
    _, dt_codes, _, gt_codes = _confusion_codes(table, t0, tp_idx, fp_idx, gt_counted)
    matrix = np.bincount(np.concatenate([dt_codes, gt_codes]), minlength=size * size)
    return matrix.astype(np.int64).reshape(size, size)


@dataclass(frozen=True)
class ConfusionCell:
    """The objects counted in one confusion-matrix cell: prediction rows (by descending
    confidence) for a prediction column, missed ground-truth rows for the background column."""

    predictions: IntArray
    ground_truths: IntArray


def confusion_cell(
    table: MatchTable,
    item_mask: BoolArray | None,
    iou_threshold: float,
    confidence_threshold: float,
    gt_label: int,
    dt_label: int,
) -> ConfusionCell:
    """The members of cell ``[gt_label, dt_label]`` of :func:`threshold_metrics`' matrix for
    the same arguments (index ``table.n_labels`` is background), so a listing of a cell has
    exactly as many rows as the cell counts.

    Raises:
        EvaluationInputError: unknown threshold, label or mask length.
    """
    n_labels = table.n_labels
    if not (0 <= gt_label <= n_labels and 0 <= dt_label <= n_labels):
        raise EvaluationInputError(f"labels must lie in [0, {n_labels}]")
    row = table.row_index(iou_threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    dt_rows, gt_rows = table.item_rows(item_mask)
    state = table.dt_state[row, dt_rows]
    counted = (state == TRUE_POSITIVE) | (state == FALSE_POSITIVE)
    chosen = dt_rows[counted]
    is_tp = state[counted] == TRUE_POSITIVE
    above = table.dt_score[chosen] >= confidence_threshold
    members_dt, dt_codes, members_gt, gt_codes = _confusion_codes(
        table,
        t0,
        chosen[above & is_tp],
        chosen[above & ~is_tp],
        _counted_ground_truth(table, gt_rows),
    )
    code = gt_label * (n_labels + 1) + dt_label
    predictions = members_dt[dt_codes == code]
    order = np.lexsort((predictions, -table.dt_score[predictions]))
    return ConfusionCell(
        predictions=predictions[order], ground_truths=np.sort(members_gt[gt_codes == code])
    )
