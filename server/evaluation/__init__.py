"""Sliceboard's evaluation engine: pure numpy functions of flat arrays.

Pipeline::

    gt = GroundTruth.from_arrays(item, label, area, iscrowd, ignore)      # (G,) each
    dt = Predictions.from_arrays(item, label, score, area)                # (P,) each
    table = evaluate(gt, dt, box_similarity(dt_xywh, gt_xywh), n_items, n_labels, MatchOptions())
    coco_summary(table, item_mask, "bbox")       # 12 numbers, per-class AP/AR, precision/recall
    threshold_metrics(table, item_mask, 0.5, 0.3)  # P/R/F1/TP/FP/FN, PR curves, confusion
    voc_ap(table, item_mask, 0.5)                # VOC all-point AP

``evaluate`` matches once, on every (area range, IoU threshold) row, into a
:class:`MatchTable`; any slice (``item_mask``: bool (n_items,)) is then an
aggregation over its rows - no re-matching. ``table.to_arrays()`` /
``MatchTable.from_arrays()`` store it as an npz blob. The similarity is a
pluggable kernel (``geometry.kernel.Similarity``): boxes here, masks,
keypoints, polygons and cuboids in ``geometry``.

Conventions: thresholds are COCO's linspace values plus 0.05..0.45 (a query
for 0.9 finds 0.8999999999999999); -1 marks undefined metrics; confusion
matrices have ground truth in rows, predictions in columns, background last.
"""

from sliceboard.evaluation.coco_metrics import CocoSummary, accumulate, coco_summary
from sliceboard.evaluation.engine import evaluate
from sliceboard.evaluation.geometry.boxes import box_areas, box_similarity
from sliceboard.evaluation.geometry.kernel import Similarity
from sliceboard.evaluation.match_table import (
    FALSE_POSITIVE,
    IGNORED,
    NOT_EVALUATED,
    TRUE_POSITIVE,
    MatchTable,
)
from sliceboard.evaluation.threshold_metrics import (
    ConfusionCell,
    Counts,
    PRCurve,
    ThresholdMetrics,
    confusion_cell,
    threshold_metrics,
)
from sliceboard.evaluation.types import (
    COCO_AREA_RANGES,
    COCO_IOU_THRESHOLDS,
    KEYPOINT_AREA_RANGES,
    LOW_IOU_THRESHOLDS,
    RECALL_THRESHOLDS,
    EmptyClasses,
    EvaluationInputError,
    GroundTruth,
    Matching,
    MatchOptions,
    Predictions,
)
from sliceboard.evaluation.voc_metrics import VocResult, voc_ap

__all__ = [
    "COCO_AREA_RANGES",
    "COCO_IOU_THRESHOLDS",
    "FALSE_POSITIVE",
    "IGNORED",
    "KEYPOINT_AREA_RANGES",
    "LOW_IOU_THRESHOLDS",
    "NOT_EVALUATED",
    "RECALL_THRESHOLDS",
    "TRUE_POSITIVE",
    "CocoSummary",
    "ConfusionCell",
    "Counts",
    "EmptyClasses",
    "EvaluationInputError",
    "GroundTruth",
    "MatchOptions",
    "MatchTable",
    "Matching",
    "PRCurve",
    "Predictions",
    "Similarity",
    "ThresholdMetrics",
    "VocResult",
    "accumulate",
    "box_areas",
    "box_similarity",
    "coco_summary",
    "confusion_cell",
    "evaluate",
    "threshold_metrics",
    "voc_ap",
]
