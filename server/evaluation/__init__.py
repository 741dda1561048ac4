"""Sliceboard's evaluation engine: pure numpy functions of flat arrays.

Pipeline: ``evaluate`` (candidate pairs, matching on every (area range, IoU
threshold) row) -> :class:`MatchTable` -> ``coco_summary`` /
``threshold_metrics`` over any subset of items, without re-matching.
"""

from server.evaluation.coco_metrics import CocoSummary, accumulate, coco_summary
from server.evaluation.engine import evaluate
from server.evaluation.geometry.boxes import box_areas, box_similarity
from server.evaluation.geometry.kernel import Similarity
from server.evaluation.match_table import (
    FALSE_POSITIVE,
    IGNORED,
    NOT_EVALUATED,
    TRUE_POSITIVE,
    MatchTable,
)
from server.evaluation.threshold_metrics import (
    Counts,
    PRCurve,
    ThresholdMetrics,
    threshold_metrics,
)
from server.evaluation.types import (
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
from server.evaluation.voc_metrics import VocResult, voc_ap

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
    "evaluate",
    "threshold_metrics",
    "voc_ap",
]
