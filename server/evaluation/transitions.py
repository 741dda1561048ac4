"""What changed object by object between two evaluations of one dataset.

A ground truth is *counted* when it is neither crowd nor ignored and its area lies in the "all"
range; it is *found* when the evaluation matched it at the IoU threshold (row of area "all",
the largest maxDets, the evaluation's own matching) with a true positive scored at or above the
confidence threshold. Every true positive finds exactly one counted ground truth, so per label
``candidate TP - baseline TP = fixed - broken`` holds exactly on a common ground truth.

False positives (counted predictions above the confidence threshold that matched nothing) are
paired across the two runs by item, label and IoU >= the threshold, greedily from the highest
IoU (one partner each); the unpaired are the new (candidate) and removed (baseline) ones.

Shapes: G ground truths, P predictions, N candidate pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sliceboard.evaluation.match_table import FALSE_POSITIVE, TRUE_POSITIVE, MatchTable
from sliceboard.evaluation.types import BoolArray, FloatArray, IntArray

FIXED, BROKEN, STILL_MISSED, STILL_FOUND = "FIXED", "BROKEN", "STILL_MISSED", "STILL_FOUND"


@dataclass(frozen=True)
class GroundTruthOutcome:
    """Per ground truth of one evaluation: counted (G,), found (G,), the finding prediction
    row (G,) or -1."""

    counted: BoolArray
    found: BoolArray
    finder: IntArray


def ground_truth_outcome(
    table: MatchTable, iou_threshold: float, confidence_threshold: float
) -> GroundTruthOutcome:
    row = table.row_index(iou_threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    counted = ~(table.gt_iscrowd | table.gt_ignore)
    counted &= (table.gt_area >= table.area_low[0]) & (table.gt_area <= table.area_high[0])
    partner = table.gt_dt[t0].astype(np.int64)
    has = partner >= 0
    safe = np.where(has, partner, 0)
    found = (
        counted
        & has
        & (table.dt_state[row, safe] == TRUE_POSITIVE)
        & (table.dt_score[safe] >= confidence_threshold)
    )
    return GroundTruthOutcome(counted=counted, found=found, finder=np.where(found, partner, -1))


def counted_false_positives(
    table: MatchTable, iou_threshold: float, confidence_threshold: float
) -> IntArray:
    """Prediction rows counted as false positives at the thresholds, ascending."""
    row = table.row_index(iou_threshold, 0)
    fp = (table.dt_state[row] == FALSE_POSITIVE) & (table.dt_score >= confidence_threshold)
    return np.flatnonzero(fp)


@dataclass(frozen=True)
class GroundTruthTransitions:
    """Aligned ground truths (both evaluations hold them) and their change.

    Attributes:
        label: int64 (G,) label index (of the baseline's label names).
        base_row, cand_row: int64 (G,) the row in each table.
        base_found, cand_found: bool (G,).
        counted: bool (G,) counted in both.
    """

    label: IntArray
    base_row: IntArray
    cand_row: IntArray
    base_found: BoolArray
    cand_found: BoolArray
    counted: BoolArray

    def kind(self, name: str) -> BoolArray:
        """Mask of FIXED / BROKEN / STILL_MISSED / STILL_FOUND."""
        b, c = self.base_found, self.cand_found
        masks = {
            FIXED: ~b & c,
            BROKEN: b & ~c,
            STILL_MISSED: ~b & ~c,
            STILL_FOUND: b & c,
        }
        out: BoolArray = self.counted & masks[name]
        return out


def align_ground_truth(
    base_ids: IntArray,
    base: GroundTruthOutcome,
    base_label: IntArray,
    cand_ids: IntArray,
    cand: GroundTruthOutcome,
) -> GroundTruthTransitions:
    """Pairs the ground truths the two evaluations share by id (``*_ids`` ascending)."""
    common, base_row, cand_row = np.intersect1d(
        base_ids, cand_ids, assume_unique=True, return_indices=True
    )
    del common
    return GroundTruthTransitions(
        label=base_label[base_row].astype(np.int64),
        base_row=base_row.astype(np.int64),
        cand_row=cand_row.astype(np.int64),
        base_found=base.found[base_row],
        cand_found=cand.found[cand_row],
        counted=base.counted[base_row] & cand.counted[cand_row],
    )


def pair_false_positives(
    base_key: IntArray,
    cand_key: IntArray,
    similarity: Callable[[IntArray, IntArray], FloatArray],
    iou_threshold: float,
) -> tuple[BoolArray, BoolArray]:
    """Greedy one-to-one pairing of two sets of false positives within equal keys.

    Args:
        base_key, cand_key: int64 (Pb,), (Pc,) a key per false positive (item and label).
        similarity: IoU of pairs ``(base index (N,), candidate index (N,))``.
        iou_threshold: pairs need IoU at least this.

    Returns:
        (paired baseline (Pb,), paired candidate (Pc,)).
    """
    base_paired = np.zeros(base_key.shape[0], dtype=bool)
    cand_paired = np.zeros(cand_key.shape[0], dtype=bool)
    b_idx, c_idx = _same_key_pairs(base_key, cand_key)
    if b_idx.shape[0] == 0:
        return base_paired, cand_paired
    iou = similarity(b_idx, c_idx)
    close = iou >= iou_threshold
    b_idx, c_idx, iou = b_idx[close], c_idx[close], iou[close]
    order = np.lexsort((c_idx, b_idx, -iou))  # a strict order: highest IoU first
    b_idx, c_idx = b_idx[order], c_idx[order]
    while b_idx.shape[0]:
        # A pair that is the best remaining pair of both its ends is taken by the sequential
        # greedy too; every round takes at least the best remaining pair.
        _, b_first = np.unique(b_idx, return_index=True)
        _, c_first = np.unique(c_idx, return_index=True)
        best = np.zeros(b_idx.shape[0], dtype=np.int8)
        best[b_first] += 1
        best[c_first] += 1
        take = best == 2
        base_paired[b_idx[take]] = True
        cand_paired[c_idx[take]] = True
        left = ~(base_paired[b_idx] | cand_paired[c_idx])
        b_idx, c_idx = b_idx[left], c_idx[left]
    return base_paired, cand_paired


def _same_key_pairs(base_key: IntArray, cand_key: IntArray) -> tuple[IntArray, IntArray]:
    """Every (baseline, candidate) index pair with equal keys."""
    b_order = np.argsort(base_key, kind="stable")
    c_order = np.argsort(cand_key, kind="stable")
    b_sorted, c_sorted = base_key[b_order], cand_key[c_order]
    keys = np.intersect1d(b_sorted, c_sorted)
    if keys.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    b_lo, b_hi = np.searchsorted(b_sorted, keys), np.searchsorted(b_sorted, keys, side="right")
    c_lo, c_hi = np.searchsorted(c_sorted, keys), np.searchsorted(c_sorted, keys, side="right")
    nb, nc = b_hi - b_lo, c_hi - c_lo
    per_key = nb * nc
    group = np.repeat(np.arange(keys.shape[0]), per_key)
    within = np.arange(per_key.sum()) - np.repeat(np.cumsum(per_key) - per_key, per_key)
    b_pos = b_lo[group] + within // nc[group]
    c_pos = c_lo[group] + within % nc[group]
    return b_order[b_pos].astype(np.int64), c_order[c_pos].astype(np.int64)
