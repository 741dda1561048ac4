"""Pixel and segment metrics of a slice of a ``SemanticTable``: sums over the slice's rows.

Pixel metrics (confusion ``C`` of shape (L, L + 1): rows ground truth, columns predictions
plus "unlabelled"; tp = diag, fp = column sum - tp over the L label columns, fn = row sum - tp):

* per label: IoU = tp / (tp + fp + fn), Dice = F1 = 2tp / (2tp + fp + fn), precision =
  tp / (tp + fp), recall (= class accuracy) = tp / (tp + fn); NaN where the denominator is 0;
* ``mean_iou``: the mean of per-label IoU over labels whose union is not empty, the union
  accumulated over the whole slice (Cityscapes, mmsegmentation);
* ``mean_image_iou``: per item, the mean IoU over the labels whose union in that item is not
  empty; then the mean over items that have one (torchmetrics' ``MeanIoU`` per sample);
* pixel accuracy = sum(tp) / sum(C); mean class accuracy = mean recall over labels present in
  the ground truth; frequency-weighted IoU = sum over those labels of (gt pixels / all pixels)
  x IoU.

Segment metrics per label: tp, fp, fn counts of ``segment_outcome``, precision, recall, F1; the
segment confusion matrix (L + 1, L + 1) with background last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.semantic import (
    FALSE_NEGATIVE,
    FALSE_POSITIVE,
    GROUND_TRUTH,
    PREDICTION,
    TRUE_POSITIVE,
    SemanticTable,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _ratio(num: np.ndarray, den: np.ndarray) -> FloatArray:
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _nanmean(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.shape[0] else float("nan")


def pixel_confusion(table: SemanticTable, item_mask: NDArray[np.bool_] | None) -> IntArray:
    """(L, L + 1) pixel counts of the items in ``item_mask`` (all when None)."""
    keep = slice(None) if item_mask is None else item_mask[table.pixel_item]
    width = table.n_labels + 1
    cells = table.pixel_gt[keep] * width + table.pixel_dt[keep]
    flat = np.bincount(cells, weights=table.pixel_count[keep], minlength=table.n_labels * width)
    return np.rint(flat).astype(np.int64).reshape(table.n_labels, width)


@dataclass(frozen=True)
class PixelMetrics:
    confusion: IntArray  # (L, L + 1)
    tp: IntArray  # (L,)
    fp: IntArray
    fn: IntArray
    gt_pixels: IntArray  # (L,) = tp + fn
    predicted_pixels: IntArray  # (L,) = tp + fp
    iou: FloatArray  # (L,) NaN: undefined
    dice: FloatArray
    precision: FloatArray
    recall: FloatArray
    mean_iou: float
    pixel_accuracy: float
    mean_class_accuracy: float
    frequency_weighted_iou: float


def pixel_metrics(confusion: IntArray) -> PixelMetrics:
    n_labels = confusion.shape[0]
    tp = np.diagonal(confusion[:, :n_labels]).astype(np.int64)
    gt_pixels = confusion.sum(axis=1)
    predicted = confusion[:, :n_labels].sum(axis=0)
    fp, fn = predicted - tp, gt_pixels - tp
    iou = _ratio(tp, tp + fp + fn)
    recall = _ratio(tp, gt_pixels)
    total = int(confusion.sum())
    present = gt_pixels > 0
    fw = float(np.sum(gt_pixels[present] / total * iou[present])) if total else float("nan")
    return PixelMetrics(
        confusion=confusion,
        tp=tp,
        fp=fp,
        fn=fn,
        gt_pixels=gt_pixels,
        predicted_pixels=predicted,
        iou=iou,
        dice=_ratio(2 * tp, 2 * tp + fp + fn),
        precision=_ratio(tp, predicted),
        recall=recall,
        mean_iou=_nanmean(iou),
        pixel_accuracy=float(tp.sum() / total) if total else float("nan"),
        mean_class_accuracy=_nanmean(recall),
        frequency_weighted_iou=fw,
    )


def mean_image_iou(table: SemanticTable, item_mask: NDArray[np.bool_] | None) -> float:
    """Mean over items of each item's mean IoU (labels with a non-empty union in the item)."""
    keep = slice(None) if item_mask is None else item_mask[table.pixel_item]
    item, gt, dt, n = (
        table.pixel_item[keep], table.pixel_gt[keep], table.pixel_dt[keep], table.pixel_count[keep],
    )  # fmt: skip
    if item.shape[0] == 0:
        return float("nan")
    items, item_code = np.unique(item, return_inverse=True)
    n_labels = table.n_labels
    size = items.shape[0] * n_labels
    gt_total = np.bincount(item_code * n_labels + gt, weights=n, minlength=size)
    labelled = dt < n_labels
    dt_total = np.bincount(
        item_code[labelled] * n_labels + dt[labelled], weights=n[labelled], minlength=size
    )
    hit = gt == dt
    tp = np.bincount(item_code[hit] * n_labels + gt[hit], weights=n[hit], minlength=size)
    union = (gt_total + dt_total - tp).reshape(-1, n_labels)
    iou = _ratio(tp.reshape(-1, n_labels), union)
    counted = union > 0
    per_item = np.nansum(np.where(counted, iou, 0.0), axis=1)
    labels_per_item = counted.sum(axis=1)
    defined = labels_per_item > 0
    if not defined.any():
        return float("nan")
    return float(np.mean(per_item[defined] / labels_per_item[defined]))


@dataclass(frozen=True)
class SegmentMetrics:
    tp: IntArray  # (L,)
    fp: IntArray
    fn: IntArray
    precision: FloatArray
    recall: FloatArray
    f1: FloatArray
    confusion: IntArray  # (L + 1, L + 1) ground truth rows, predictions columns, background last


def segment_metrics(table: SemanticTable, item_mask: NDArray[np.bool_] | None) -> SegmentMetrics:
    keep = (
        np.ones(table.segment_item.shape[0], dtype=bool)
        if item_mask is None
        else item_mask[table.segment_item]
    )
    n = table.n_labels
    side, outcome, label = table.segment_side, table.segment_outcome, table.segment_label
    partner = table.segment_partner

    def count(which: np.ndarray) -> IntArray:
        return np.bincount(label[keep & which], minlength=n).astype(np.int64)

    gt_side, dt_side = side == GROUND_TRUTH, side == PREDICTION
    tp = count(gt_side & (outcome == TRUE_POSITIVE))
    fp = count(dt_side & (outcome == FALSE_POSITIVE))
    fn = count(gt_side & (outcome == FALSE_NEGATIVE))
    confusion = np.zeros((n + 1, n + 1), dtype=np.int64)
    gt_rows = keep & gt_side
    np.add.at(confusion, (label[gt_rows], np.where(partner[gt_rows] < 0, n, partner[gt_rows])), 1)
    lone = keep & dt_side & (partner < 0)
    np.add.at(confusion, (np.full(int(lone.sum()), n), label[lone]), 1)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return SegmentMetrics(
        tp=tp,
        fp=fp,
        fn=fn,
        precision=precision,
        recall=recall,
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        confusion=confusion,
    )
