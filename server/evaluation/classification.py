"""Classification metrics by exact label match, one label per item.

For each item there is at most one ground-truth label and at most one predicted
label (with an optional confidence). A prediction below the confidence
threshold counts as no prediction. Labels are compared as exact strings.

The confusion matrix has one row per ground-truth label and one column per
predicted label, over the sorted union of all labels, plus a final
"background" row and column: an item with a ground truth and no prediction
adds to (label, background), an item with a prediction and no ground truth to
(background, label). Items with neither are not counted.

Per class c: precision = TP / predicted as c, recall = TP / labelled c,
F1 their harmonic mean; a ratio with a zero denominator is 0 (scikit-learn's
``zero_division=0``), so every number is finite. Accuracy is correct
predictions over items that have a ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class ClassificationReport:
    """Metrics over L labels; arrays are indexed like ``labels``.

    Attributes:
        labels: the L labels, sorted.
        confusion: int64 (L+1, L+1), rows ground truth, columns prediction,
            last row/column background.
        true_positives, false_positives, false_negatives, support: int64 (L,).
        precision, recall, f1: float64 (L,).
        accuracy: correct / items with a ground truth (0 when there are none).
        macro_precision, macro_recall, macro_f1: unweighted means over the
            labels (every label has a ground truth or a kept prediction; 0
            when there are no labels).
    """

    labels: list[str]
    confusion: NDArray[np.int64]
    true_positives: NDArray[np.int64]
    false_positives: NDArray[np.int64]
    false_negatives: NDArray[np.int64]
    support: NDArray[np.int64]
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    f1: NDArray[np.float64]
    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float


def _ratio(
    num: NDArray[np.int64] | NDArray[np.float64], den: NDArray[np.int64] | NDArray[np.float64]
) -> NDArray[np.float64]:
    out = np.zeros(np.shape(num), dtype=np.float64)
    ok = den > 0
    out[ok] = np.asarray(num, dtype=np.float64)[ok] / np.asarray(den, dtype=np.float64)[ok]
    return out


def classification_metrics(
    gt_labels: Sequence[str | None],
    predicted_labels: Sequence[str | None],
    confidence: ArrayLike | None = None,
    confidence_threshold: float = 0.0,
) -> ClassificationReport:
    """Scores one predicted label per item against one ground-truth label per item.

    Args:
        gt_labels: (N,) ground-truth label of each item, None when it has none.
        predicted_labels: (N,) predicted label of each item, None when none.
        confidence: optional float64 (N,) confidence of each prediction.
        confidence_threshold: predictions with confidence below it are dropped.

    Raises:
        ValueError: the inputs differ in length.
    """
    n = len(gt_labels)
    if len(predicted_labels) != n:
        raise ValueError(f"{n} ground-truth labels but {len(predicted_labels)} predictions")
    predicted = list(predicted_labels)
    if confidence is not None:
        conf = np.asarray(confidence, dtype=np.float64).reshape(-1)
        if conf.shape[0] != n:
            raise ValueError(f"{n} items but {conf.shape[0]} confidences")
        predicted = [
            p if not (c < confidence_threshold) else None
            for p, c in zip(predicted, conf.tolist(), strict=True)
        ]
    labels = sorted(
        {x for x in gt_labels if x is not None} | {x for x in predicted if x is not None}
    )
    index = {label: i for i, label in enumerate(labels)}
    background = len(labels)
    rows = np.fromiter(
        (index.get(x, background) if x is not None else background for x in gt_labels),
        np.int64,
        count=n,
    )
    cols = np.fromiter(
        (index[x] if x is not None else background for x in predicted), np.int64, count=n
    )
    counted = (rows != background) | (cols != background)
    size = background + 1
    confusion = np.bincount(rows[counted] * size + cols[counted], minlength=size * size)
    confusion = confusion.reshape(size, size).astype(np.int64)
    tp = np.diag(confusion)[:background].copy()
    predicted_as = confusion[:, :background].sum(axis=0)
    support = confusion[:background, :].sum(axis=1)
    precision = _ratio(tp, predicted_as)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    with_gt = int(support.sum())

    def _macro(values: NDArray[np.float64]) -> float:
        return float(values.mean()) if values.size else 0.0

    return ClassificationReport(
        labels=labels,
        confusion=confusion,
        true_positives=tp,
        false_positives=predicted_as - tp,
        false_negatives=support - tp,
        support=support,
        precision=precision,
        recall=recall,
        f1=f1,
        accuracy=float(tp.sum()) / with_gt if with_gt else 0.0,
        macro_precision=_macro(precision),
        macro_recall=_macro(recall),
        macro_f1=_macro(f1),
    )
