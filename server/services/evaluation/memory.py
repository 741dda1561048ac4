"""The memory one evaluation will take in its worker, estimated from the run's counts and the
options before anything is computed, so a run that cannot fit fails with a clear message
instead of exhausting the machine (10,000 thresholds once took 7 GB within 13 s).

The engine's peak grows with its match rows (every (area range, threshold) plus the low
thresholds) times the objects (dt states, gt matches and the match entries of each row), plus
the candidate pairs it scores. Measured with ``tracemalloc`` on boxes where every prediction
overlaps a ground truth (20,000-160,000 objects, 10-1,000 thresholds): 16.9-19.5 bytes per
(row, object) once rows dominate, 42 with COCO's 49 rows where the fixed costs show. The
constants below round that up and add the snapshot the worker stores and sends back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sliceboard.services.evaluation.options import EvaluationOptions, match_options
from sliceboard.storage.evaluation_data import ObjectRows, RunData

BYTES_PER_ROW_OBJECT = 24
BYTES_PER_ROW_PREDICTION_CROSS_LABEL = 4  # the per-row class of each prediction (int32)
BYTES_PER_PAIR = 100
BYTES_PER_OBJECT = 1_000
MB = 1024 * 1024


@dataclass(frozen=True)
class MemoryEstimate:
    """An upper estimate of one evaluation's peak in its worker, and the counts behind it."""

    predictions: int
    ground_truths: int
    rows: int
    pairs: int
    bytes: int

    @property
    def megabytes(self) -> int:
        return -(-self.bytes // MB)

    def over_budget_message(self, budget_mb: int) -> str:
        return (
            f"this evaluation would need about {self.megabytes} MB ({self.predictions} "
            f"predictions, {self.ground_truths} ground truths, {self.rows} match rows from the "
            f"IoU thresholds, {self.pairs} candidate pairs), over the budget of {budget_mb} MB "
            "(SLICEBOARD_EVALUATION_MEMORY_MB): use fewer iouThresholds or raise the budget"
        )


def estimate_memory(data: RunData, options: EvaluationOptions) -> MemoryEstimate:
    """The estimate for evaluating ``data`` with ``options`` (the worker's peak, in bytes)."""
    engine = match_options(options, [])
    extra = [t for t in engine.extra_iou_thresholds if t not in engine.iou_thresholds]
    rows = len(engine.area_ranges) * len(engine.iou_thresholds) + len(extra)
    dt, gt = data.predictions, data.ground_truth
    n_dt, n_gt = len(dt.ids), len(gt.ids)
    cross_label = options.class_agnostic or bool(options.allowed_label_matches)
    pairs = candidate_pairs(dt, gt, by_label=not cross_label)
    size = (
        rows * (n_dt + n_gt) * BYTES_PER_ROW_OBJECT
        + (rows * n_dt * BYTES_PER_ROW_PREDICTION_CROSS_LABEL if cross_label else 0)
        + pairs * BYTES_PER_PAIR
        + (n_dt + n_gt) * BYTES_PER_OBJECT
    )
    return MemoryEstimate(
        predictions=n_dt, ground_truths=n_gt, rows=rows, pairs=pairs, bytes=int(size)
    )


def candidate_pairs(dt: ObjectRows, gt: ObjectRows, *, by_label: bool) -> int:
    """How many (prediction, ground truth) pairs share an item (and a label when ``by_label``):
    the most pairs the engine can score."""
    if not len(dt.ids) or not len(gt.ids):
        return 0
    dt_keys, gt_keys = dt.item_ids.astype(np.int64), gt.item_ids.astype(np.int64)
    if by_label:
        names = sorted(set(dt.label_names) | set(gt.label_names))
        code = {name: k for k, name in enumerate(names)}
        dt_map = np.array([code[n] for n in dt.label_names], dtype=np.int64)
        gt_map = np.array([code[n] for n in gt.label_names], dtype=np.int64)
        dt_keys = dt_keys * len(names) + dt_map[dt.label_codes]
        gt_keys = gt_keys * len(names) + gt_map[gt.label_codes]
    keys, dt_counts = np.unique(dt_keys, return_counts=True)
    gt_unique, gt_counts = np.unique(gt_keys, return_counts=True)
    at = np.minimum(np.searchsorted(gt_unique, keys), len(gt_unique) - 1)
    shared = np.where(gt_unique[at] == keys, gt_counts[at], 0)
    return int(np.dot(dt_counts.astype(np.int64), shared.astype(np.int64)))
