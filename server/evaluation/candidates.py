"""Ordering and candidate pairs: which prediction may match which ground truth.

Matching runs inside *units*: an item, split by label (class-sensitive), by
connected label component (allowed label matches) or not at all
(class-agnostic). Predictions are ordered by (unit, -score, label, input
index) with a stable sort - pycocotools' order - and each prediction's
*round* is its position in its unit. Only the top ``max_dets`` predictions
per (item, label) (per item when class-agnostic) are evaluated.

Candidate pairs are generated per unit with segment arithmetic (no Python loop
per item), scored by the similarity kernel in bounded chunks, and pairs below
the lowest threshold are dropped. Pairs are sorted by (prediction order,
similarity, ground-truth order): the last eligible pair of a prediction is the
one pycocotools picks (ties go to the later ground truth).

Shapes: P predictions, E evaluated predictions, G ground truths, K pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.geometry.kernel import Similarity, ranges
from sliceboard.evaluation.types import (
    BoolArray,
    EvaluationInputError,
    FloatArray,
    GroundTruth,
    IntArray,
    Predictions,
)

#: Pairs generated (and scored) per chunk, bounding peak memory.
PAIR_CHUNK = 1 << 18


@dataclass(frozen=True)
class Candidates:
    """Evaluation order and scored candidate pairs.

    Attributes:
        dt_order: int64 (E,) prediction rows in matching order (evaluated only):
            sorted by item first, input order breaking ties.
        dt_rank: int64 (P,) rank of every prediction in its maxDets group.
        dt_round: int64 (E,) position of ``dt_order[e]`` inside its unit.
        gt_position: int64 (G,) order of each ground truth inside its unit.
        pair_dt: int64 (K,) position in ``dt_order`` (0..E-1).
        pair_gt: int64 (K,) ground-truth row.
        pair_iou: float64 (K,) similarity.
        metric_order: int64 (E,) evaluated predictions by (label, -score, item,
            input order), when the sort produced it (class-sensitive), else None.
    """

    dt_order: IntArray
    dt_rank: IntArray
    dt_round: IntArray
    gt_position: IntArray
    pair_dt: IntArray
    pair_gt: IntArray
    pair_iou: FloatArray
    metric_order: IntArray | None = None


def label_components(n_labels: int, allowed: tuple[tuple[int, int], ...]) -> IntArray:
    """Connected components of labels linked by allowed pairs: int64 (n_labels,)."""
    parent = np.arange(n_labels, dtype=np.int64)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return x

    for gt_label, dt_label in allowed:
        for value in (gt_label, dt_label):
            if not 0 <= value < n_labels:
                raise EvaluationInputError(f"allowed label match uses unknown label {value}")
        a, b = find(gt_label), find(dt_label)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(n_labels)], dtype=np.int64)


def _small_keys(keys: IntArray) -> NDArray[np.integer]:
    """The keys as 16-bit integers when they fit, so numpy radix-sorts them."""
    if keys.size == 0 or (keys.min() >= 0 and keys.max() < 2**16):
        return keys.astype(np.uint16)
    return keys


def _group_rank(keys_sorted: IntArray) -> IntArray:
    """Position of each element inside its run of equal keys (keys already sorted)."""
    n = keys_sorted.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, keys_sorted[1:] != keys_sorted[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)


def build_candidates(
    gt: GroundTruth,
    dt: Predictions,
    similarity: Similarity,
    *,
    n_labels: int,
    class_agnostic: bool,
    allowed: tuple[tuple[int, int], ...],
    max_dets: int,
    min_iou: float,
    exclude_same_label: bool = False,
) -> Candidates:
    """Orders predictions and ground truths and scores their candidate pairs.

    Args:
        gt, dt: the inputs (G and P rows).
        similarity: kernel scoring (dt row, gt row, crowd) pairs.
        n_labels: number of labels.
        class_agnostic: one unit per item, any label pair is a candidate.
        allowed: extra (gt label, dt label) candidate pairs.
        max_dets: predictions kept per maxDets group.
        min_iou: pairs below it are dropped (they can never match).
        exclude_same_label: drop pairs of equal or allowed labels (used for the
            confusion-matrix pass, which only looks for cross-label pairs).

    Returns:
        :class:`Candidates`.
    """
    if class_agnostic:
        dt_unit = dt.item
        gt_unit = gt.item
    else:
        component = label_components(n_labels, allowed)
        dt_unit = dt.item * n_labels + component[dt.label]
        gt_unit = gt.item * n_labels + component[gt.label]

    # Stable sorts throughout: equal keys keep input order, as pycocotools' mergesort.
    neg_score = -dt.score
    cross_label = class_agnostic or bool(allowed)
    metric_order: IntArray | None = None
    if cross_label:
        order = np.lexsort((dt.label, neg_score, dt_unit))
    else:
        # One float sort serves both orders: (label, -score, item) for accumulate
        # and (item, label, -score) for matching; the rest are radix sorts.
        by_item = np.argsort(_small_keys(dt.item), kind="stable")
        by_score = by_item[np.argsort(neg_score[by_item], kind="stable")]
        metric_order = by_score[np.argsort(_small_keys(dt.label[by_score]), kind="stable")]
        order = metric_order[np.argsort(_small_keys(dt.item[metric_order]), kind="stable")]
    if allowed and not class_agnostic:
        rank_key_all = dt.item * n_labels + dt.label
        rank_order = np.lexsort((neg_score, rank_key_all))
        rank_key = rank_key_all[rank_order]
    else:  # the maxDets group is the matching unit
        rank_order, rank_key = order, dt_unit[order]
    dt_rank = np.empty(len(dt), dtype=np.int64)
    dt_rank[rank_order] = _group_rank(rank_key)

    dt_order = order[dt_rank[order] < max_dets]
    if metric_order is not None:
        metric_order = metric_order[dt_rank[metric_order] < max_dets]
    dt_units_sorted = dt_unit[dt_order]
    # When the maxDets group is the unit, a prediction's round is its rank.
    dt_round = dt_rank[dt_order] if rank_order is order else _group_rank(dt_units_sorted)

    gt_order = np.lexsort((np.arange(len(gt), dtype=np.int64), gt.label, gt_unit))
    gt_units_sorted = gt_unit[gt_order]
    gt_position = np.empty(len(gt), dtype=np.int64)
    gt_position[gt_order] = np.arange(len(gt), dtype=np.int64)

    # Each prediction pairs with up to two runs of its unit's ground truths: the
    # whole unit, or - for cross-label pairs only - the unit minus its own label.
    left = np.searchsorted(gt_units_sorted, dt_units_sorted, side="left")
    right = np.searchsorted(gt_units_sorted, dt_units_sorted, side="right")
    if exclude_same_label and class_agnostic:
        gt_keys = (gt.item * n_labels + gt.label)[gt_order]
        dt_keys = dt.item[dt_order] * n_labels + dt.label[dt_order]
        own_lo = np.searchsorted(gt_keys, dt_keys, side="left")
        own_hi = np.searchsorted(gt_keys, dt_keys, side="right")
        run_starts = np.stack([left, own_hi], axis=1)
        run_counts = np.stack([own_lo - left, right - own_hi], axis=1)
    else:
        run_starts, run_counts = left[:, None], (right - left)[:, None]
    counts = run_counts.sum(axis=1)

    crowd = gt.iscrowd
    if exclude_same_label:  # runs already skip the own label when class-agnostic
        check_labels = bool(allowed) or not class_agnostic
    else:
        check_labels = bool(allowed) and not class_agnostic
    allowed_codes = np.array([g * n_labels + d for g, d in allowed], dtype=np.int64)
    parts_dt: list[IntArray] = []
    parts_gt: list[IntArray] = []
    parts_iou: list[FloatArray] = []
    cumulative = np.cumsum(counts)
    dt_label_sorted = dt.label[dt_order]
    start = 0
    while start < dt_order.shape[0]:
        base = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, base + PAIR_CHUNK, side="right"))
        stop = max(stop, start + 1)
        pair_pos = np.repeat(np.arange(start, stop, dtype=np.int64), counts[start:stop])
        pair_gt = gt_order[ranges(run_starts[start:stop].ravel(), run_counts[start:stop].ravel())]
        start = stop
        dt_rows = dt_order[pair_pos]
        if check_labels:
            dl = dt_label_sorted[pair_pos]
            gl = gt.label[pair_gt]
            listed = (
                np.isin(gl * n_labels + dl, allowed_codes)
                if allowed_codes.shape[0]
                else np.zeros(dl.shape[0], dtype=bool)
            )
            compatible = ~listed & (gl != dl) if exclude_same_label else listed | (gl == dl)
            pair_pos, pair_gt, dt_rows = (
                pair_pos[compatible],
                pair_gt[compatible],
                dt_rows[compatible],
            )
        iou = np.asarray(similarity(dt_rows, pair_gt, crowd[pair_gt]), dtype=np.float64)
        if iou.shape != pair_gt.shape:
            raise EvaluationInputError(
                f"similarity returned shape {iou.shape} for {pair_gt.shape[0]} pairs"
            )
        keep = iou >= min_iou
        parts_dt.append(pair_pos[keep])
        parts_gt.append(pair_gt[keep])
        parts_iou.append(iou[keep])

    pair_dt = np.concatenate(parts_dt) if parts_dt else np.zeros(0, dtype=np.int64)
    pair_gt_all = np.concatenate(parts_gt) if parts_gt else np.zeros(0, dtype=np.int64)
    pair_iou = np.concatenate(parts_iou) if parts_iou else np.zeros(0, dtype=np.float64)
    # Pairs were generated in (prediction, ground-truth order); a stable sort on
    # similarity inside each prediction keeps ground-truth order among ties.
    sort = np.lexsort((pair_iou, pair_dt))
    return Candidates(
        dt_order=dt_order,
        dt_rank=dt_rank,
        dt_round=dt_round,
        gt_position=gt_position,
        pair_dt=pair_dt[sort],
        pair_gt=pair_gt_all[sort],
        pair_iou=pair_iou[sort],
        metric_order=metric_order,
    )


def gt_ignored_rows(gt: GroundTruth, row_low: FloatArray, row_high: FloatArray) -> BoolArray:
    """Ignored flag of every ground truth on every row: bool (R, G).

    Crowd regions, explicitly ignored objects and objects whose ``area`` lies
    outside the row's [low, high] range are ignored (pycocotools' ``_ignore``).
    """
    base = gt.iscrowd | gt.ignore
    area = gt.area[None, :]
    return base[None, :] | (area < row_low[:, None]) | (area > row_high[:, None])
