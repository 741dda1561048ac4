"""Greedy matching of predictions to ground truths on many rows at once.

A *row* is one (area range, IoU threshold) setting; rows differ in which
ground truths are ignored and in the threshold. Both matchers return the matches
sparsely: (row, prediction, winning pair) triples, int64 (M,) each.

Confidence order (pycocotools ``evaluateImg``) runs in *rounds*: round r lets
the r-th prediction of every unit choose at once - units are independent, so
the loop is over rounds (at most maxDets), vectorised over all units and rows.
A prediction takes the last eligible pair in (IoU, gt order) order among
non-ignored ground truths, and only if there is none among ignored ones;
eligible means IoU >= min(t, 1-1e-10) and the ground truth is free or a crowd
region. ``no_fallback`` restricts each prediction to its best non-ignored
ground truth (Encord/Kolena): if that one is taken, it does not fall back.

IoU-greedy order (Nucleus/Labelbox) takes pairs by descending IoU. Greedy
matching by a strict total order equals repeatedly taking every *locally
dominant* pair (best for its prediction and its ground truth) and removing
both ends, which vectorises across units and rows; a few sweeps suffice.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.candidates import Candidates
from sliceboard.evaluation.types import BoolArray, FloatArray, IntArray

#: pycocotools caps thresholds so a perfect IoU of 1 still matches at t = 1.
_IOU_CAP = 1 - 1e-10
#: Pairs handled at once inside one round.
_ROUND_CHUNK = 1 << 15
#: Added to a pair's local index in a chunk (< 2**31 - _PREFER) when its ground truth
#: is not ignored, so one max picks non-ignored pairs first.
_PREFER = 1 << 30


@dataclass(frozen=True)
class Matches:
    """Sparse matching result: one entry per (row, prediction) that matched.

    Attributes:
        row: int32 (M,) row index.
        dt_row: int32 (M,) prediction row (index into the inputs).
        gt_row: int32 (M,) matched ground-truth row.
        pair: int32 (M,) winning pair index into ``Candidates.pair_*``.
        to_ignored: bool (M,) the ground truth is ignored on that row.
    """

    row: NDArray[np.int32]
    dt_row: NDArray[np.int32]
    gt_row: NDArray[np.int32]
    pair: NDArray[np.int32]
    to_ignored: BoolArray

    @classmethod
    def empty(cls) -> Matches:
        none = np.zeros(0, dtype=np.int32)
        return cls(none, none, none, none, np.zeros(0, dtype=bool))

    @classmethod
    def from_dense(
        cls, cand: Candidates, winners: NDArray[np.int32], gt_ignored: BoolArray
    ) -> Matches:
        """From int32 (R, E) winning pair indices (-1: unmatched)."""
        row, pos = np.nonzero(winners >= 0)
        pair = winners[row, pos]
        gt_row = cand.pair_gt[pair]
        return cls(
            row=row.astype(np.int32),
            dt_row=cand.dt_order[pos].astype(np.int32),
            gt_row=gt_row.astype(np.int32),
            pair=pair.astype(np.int32),
            to_ignored=gt_ignored[row, gt_row],
        )


def effective_thresholds(thresholds: FloatArray) -> FloatArray:
    """``min(t, 1 - 1e-10)`` per row, as pycocotools compares: float64 (R,)."""
    return np.minimum(np.asarray(thresholds, dtype=np.float64), _IOU_CAP)


def _round_chunks(round_dt: IntArray, lo: int, hi: int) -> list[tuple[int, int]]:
    """Splits a round's pairs [lo, hi) at prediction boundaries into runs of
    about ``_ROUND_CHUNK`` pairs, bounding the (rows x pairs) temporaries."""
    if hi - lo <= _ROUND_CHUNK:
        return [(lo, hi)] if hi > lo else []
    starts = lo + _segment_starts(round_dt[lo:hi])
    cuts = np.unique(starts[np.searchsorted(starts, np.arange(lo, hi, _ROUND_CHUNK))])
    edges = [*cuts.tolist(), hi]
    return list(itertools.pairwise(edges))


def _segment_starts(keys: IntArray) -> IntArray:
    if keys.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def match_by_confidence(
    cand: Candidates,
    thresholds: FloatArray,
    gt_ignored: BoolArray,
    gt_crowd: BoolArray,
    *,
    no_fallback: bool = False,
    dt_active: BoolArray | None = None,
    gt_taken: BoolArray | None = None,
) -> Matches:
    """pycocotools' greedy matching in confidence order, for all rows.

    Args:
        cand: ordered candidates (E evaluated predictions, K pairs).
        thresholds: float64 (R,) IoU threshold per row.
        gt_ignored: bool (R, G) ignored ground truths per row.
        gt_crowd: bool (G,) crowd regions (never become taken).
        no_fallback: only the best non-ignored ground truth may be claimed.
        dt_active: bool (R, E) predictions allowed to match per row (default all).
        gt_taken: bool (R, G) ground truths unavailable from the start.

    Returns:
        :class:`Matches`.
    """
    n_rows = thresholds.shape[0]
    if cand.pair_dt.shape[0] == 0 or n_rows == 0:
        return Matches.empty()
    # Work in (object, row) layout: gathering a few objects' rows then reads
    # contiguous bytes instead of one cache line per (row, object).
    thr = effective_thresholds(thresholds)[None, :]
    ignored_by_gt = np.ascontiguousarray(gt_ignored.T)
    taken = (
        np.zeros(ignored_by_gt.shape, dtype=bool)
        if gt_taken is None
        else np.ascontiguousarray(np.asarray(gt_taken, dtype=bool).T)
    )
    active_by_dt = None if dt_active is None else np.ascontiguousarray(dt_active.T)

    pair_round = cand.dt_round[cand.pair_dt]
    by_round = np.argsort(pair_round, kind="stable")
    round_dt = cand.pair_dt[by_round]
    round_gt = cand.pair_gt[by_round]
    round_iou = cand.pair_iou[by_round]
    n_rounds = int(pair_round.max()) + 1
    bounds = np.searchsorted(pair_round[by_round], np.arange(n_rounds + 1))
    found: list[tuple[IntArray, IntArray, IntArray, IntArray, BoolArray]] = []

    for r in range(n_rounds):
        for lo, hi in _round_chunks(round_dt, int(bounds[r]), int(bounds[r + 1])):
            dts = round_dt[lo:hi]
            gts = round_gt[lo:hi]
            starts = _segment_starts(dts)
            local = np.arange(hi - lo, dtype=np.int32)[:, None]
            eligible = (round_iou[lo:hi][:, None] >= thr) & ~np.take(taken, gts, axis=0)
            if active_by_dt is not None:
                eligible &= np.take(active_by_dt, dts, axis=0)
            ignored = np.take(ignored_by_gt, gts, axis=0)  # (pairs, R)
            if no_fallback:
                best_any = np.maximum.reduceat(np.where(ignored, -1, local), starts, axis=0)
                lengths = np.diff(np.r_[starts, hi - lo])
                eligible &= ignored | (local == np.repeat(best_any, lengths, axis=0))
            # The last eligible pair among non-ignored ground truths, else among ignored
            # ones: one max over local + _PREFER (< 2 * _PREFER) where not ignored.
            key = np.where(ignored, local, local + _PREFER)
            best = np.maximum.reduceat(np.where(eligible, key, -1), starts, axis=0)
            win = np.where(best >= _PREFER, best - _PREFER, best)  # (predictions, R)
            dt_idx, row_idx = np.nonzero(win >= 0)
            local_win = win[dt_idx, row_idx]
            claimed = gts[local_win]
            blocks = ~gt_crowd[claimed]
            taken[claimed[blocks], row_idx[blocks]] = True
            found.append(
                (
                    row_idx.astype(np.int32),
                    cand.dt_order[dts[starts]][dt_idx].astype(np.int32),
                    claimed.astype(np.int32),
                    by_round[local_win + lo].astype(np.int32),
                    ignored[local_win, row_idx],
                )
            )
    if not found:
        return Matches.empty()
    return Matches(*(np.concatenate(parts) for parts in zip(*found, strict=True)))


def _first_of_each(ids: IntArray, n_ids: int) -> BoolArray:
    """True where ``ids[i]`` (compact, 0..n_ids-1) occurs for the first time."""
    position = np.arange(ids.shape[0], dtype=np.int64)
    first = np.full(n_ids, ids.shape[0], dtype=np.int64)
    np.minimum.at(first, ids, position)  # O(n); np.unique would sort
    is_first: BoolArray = first[ids] == position
    return is_first


def _dominant_sweeps(
    inst_row: IntArray,
    inst_pair: IntArray,
    cand: Candidates,
    gt_crowd: BoolArray,
    winners: NDArray[np.int32],
    *,
    n_gt: int,
) -> None:
    """Greedy matching of priority-ordered instances; writes into winners int32 (R, E)."""
    n_eval = cand.dt_order.shape[0]
    dt_node = inst_row * n_eval + cand.pair_dt[inst_pair]
    gt_node = inst_row * n_gt + cand.pair_gt[inst_pair]
    crowd = gt_crowd[cand.pair_gt[inst_pair]]
    # Compact node ids so per-sweep scratch arrays stay the size of the instances.
    dt_nodes, dt_id = np.unique(dt_node, return_inverse=True)
    gt_nodes, gt_id = np.unique(gt_node, return_inverse=True)
    dt_done = np.zeros(dt_nodes.shape[0], dtype=bool)
    gt_done = np.zeros(gt_nodes.shape[0], dtype=bool)
    flat_winners = winners.reshape(-1)
    while inst_pair.shape[0]:
        take = _first_of_each(dt_id, dt_nodes.shape[0]) & (
            crowd | _first_of_each(gt_id, gt_nodes.shape[0])
        )
        flat_winners[dt_nodes[dt_id[take]]] = inst_pair[take]
        dt_done[dt_id[take]] = True
        gt_done[gt_id[take & ~crowd]] = True
        keep = ~dt_done[dt_id] & ~gt_done[gt_id]
        inst_pair, dt_id, gt_id, crowd = inst_pair[keep], dt_id[keep], gt_id[keep], crowd[keep]


def match_by_iou(
    cand: Candidates,
    thresholds: FloatArray,
    gt_ignored: BoolArray,
    gt_crowd: BoolArray,
    *,
    dt_active: BoolArray | None = None,
    gt_taken: BoolArray | None = None,
) -> Matches:
    """Highest-IoU-first greedy matching, for all rows.

    Non-ignored ground truths are matched first; predictions left over may then
    be absorbed by ignored ones (crowd regions absorb any number). Ties in IoU
    go to the higher-confidence prediction, then to the earlier ground truth.

    Args:
        cand: ordered candidates (E evaluated predictions, K pairs).
        thresholds: float64 (R,) IoU threshold per row.
        gt_ignored: bool (R, G) ignored ground truths per row.
        gt_crowd: bool (G,) crowd regions.
        dt_active: bool (R, E) predictions allowed to match per row (default all).
        gt_taken: bool (R, G) ground truths unavailable from the start.

    Returns:
        :class:`Matches`.
    """
    n_rows = thresholds.shape[0]
    n_gt = gt_ignored.shape[1]
    winners = np.full((n_rows, cand.dt_order.shape[0]), -1, dtype=np.int32)
    if cand.pair_dt.shape[0] == 0:
        return Matches.empty()
    thr = effective_thresholds(thresholds)
    priority = np.lexsort((cand.gt_position[cand.pair_gt], cand.pair_dt, -cand.pair_iou))
    iou = cand.pair_iou[priority]
    pair_dt = cand.pair_dt[priority]
    pair_gt = cand.pair_gt[priority]
    for stage_ignored in (False, True):
        rows: list[IntArray] = []
        pairs: list[IntArray] = []
        for r in range(n_rows):
            keep = (iou >= thr[r]) & (gt_ignored[r, pair_gt] == stage_ignored)
            if stage_ignored:
                keep &= winners[r, pair_dt] < 0
            if dt_active is not None:
                keep &= dt_active[r, pair_dt]
            if gt_taken is not None:
                keep &= ~gt_taken[r, pair_gt]
            chosen = priority[keep]
            pairs.append(chosen)
            rows.append(np.full(chosen.shape[0], r, dtype=np.int64))
        _dominant_sweeps(
            np.concatenate(rows), np.concatenate(pairs), cand, gt_crowd, winners, n_gt=n_gt
        )
    return Matches.from_dense(cand, winners, gt_ignored)
