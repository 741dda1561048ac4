"""Precision at COCO's recall points from blocks of sorted prediction states.

The inner loop of :func:`sliceboard.evaluation.coco_metrics.accumulate`. A block is
B rows (area range, IoU threshold) of one slice's predictions sorted by
(class, -score, ...). Rather than cumulative TP/FP sums over all B*N entries,
the states become 64-bit words of "counted" (TP or FP) bits: a running
popcount per word gives every true positive its counts, and only true
positives can be where pycocotools reads precision (recall grows only at a
TP, precision falls only at an FP). A maxDets limit is an AND per word.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.match_table import TRUE_POSITIVE
from sliceboard.evaluation.types import RECALL_THRESHOLDS, BoolArray, FloatArray, IntArray

N_RECALL = RECALL_THRESHOLDS.shape[0]


#: The recall points padded with NaN, which no comparison passes.
_RECALL_PADDED = np.append(RECALL_THRESHOLDS, [np.nan, np.nan])


def recall_points_reached(rc: FloatArray) -> IntArray:
    """``searchsorted(RECALL_THRESHOLDS, rc, side="right")`` for rc >= 0 (inf too).

    The points are 0.01 apart, so with k = floor(100 rc) every point below k is
    reached and none above k + 1: two comparisons settle it exactly, ~10x
    faster than a binary search over unsorted keys.
    """
    k = np.minimum(rc * 100.0, float(N_RECALL)).astype(np.int64)
    reached: IntArray = (
        k + (np.take(_RECALL_PADDED, k) <= rc) + (np.take(_RECALL_PADDED, k + 1) <= rc)
    )
    return reached


def padded_width(n: int) -> int:
    """Row length of a block of N predictions: whole 64-bit words, and column N exists."""
    return (n // 64 + 1) * 64


class StateBlock:
    """States of B rows of one slice's predictions, as flat bit words.

    Rows are padded to whole 64-bit words with IGNORED (never counted), so a
    flat index ``row * width + column`` addresses both the states and the
    bits. A cumulative sum of counted entries would write B*N integers; a
    running popcount per word answers the few queries (true positives, class
    bounds) from 1/64 of that, and a maxDets limit is one AND per word.
    """

    def __init__(self, state: NDArray[np.int8]) -> None:
        """``state``: int8 (B, width) sorted by (class, -score, ...), IGNORED padding."""
        self.n_block, self.width = state.shape
        flat = state.reshape(-1)
        counted = flat.view(np.uint8) <= TRUE_POSITIVE  # FP (0) or TP (1); -1 wraps to 255
        self.words = np.packbits(counted, bitorder="little").view(np.dtype("<u8"))
        self.tp = np.flatnonzero(flat == TRUE_POSITIVE)  # flat indices, ascending

    def limited(self, keep: BoolArray | None) -> tuple[NDArray[np.uint64], IntArray]:
        """(counted words, TP flat indices) of the columns ``keep`` (width,); all if None."""
        if keep is None:
            return self.words, self.tp
        keep_words = np.packbits(keep, bitorder="little").view(np.dtype("<u8"))
        words = (self.words.reshape(self.n_block, -1) & keep_words).reshape(-1)
        tp = self.tp[keep[self.tp % self.width]]
        return words, tp


def _counted_before(words: NDArray[np.uint64], prefix: IntArray, flat: IntArray) -> IntArray:
    """Counted entries before each flat index (across rows; differences cancel rows)."""
    word = flat >> 6
    below = np.left_shift(np.uint64(1), (flat & 63).astype(np.uint64)) - np.uint64(1)
    partial = np.bitwise_count(np.take(words, word) & below).astype(np.int64)
    out: IntArray = np.take(prefix, word) + partial
    return out


class _Segments:
    """Where one block's (row, class) segments start and which of their entries are TPs."""

    def __init__(
        self,
        block: StateBlock,
        keep: BoolArray | None,
        cls: NDArray[np.integer[Any]],
        n_classes: int,
    ) -> None:
        n_block, width = block.n_block, block.width
        self.n_seg = n_block * n_classes
        self.words, self.tp_flat = block.limited(keep)
        self.prefix = np.zeros(self.words.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bitwise_count(self.words), out=self.prefix[1:])
        class_bounds = np.searchsorted(cls, np.arange(n_classes + 1))
        bound_flat = (np.arange(n_block)[:, None] * width + class_bounds[None, :]).reshape(-1)
        self.at_bounds = _counted_before(self.words, self.prefix, bound_flat)
        #: counted (TP or FP) entries per segment
        self.seg_len = np.diff(self.at_bounds.reshape(n_block, n_classes + 1), axis=1).reshape(-1)
        per_row = np.diff(np.searchsorted(self.tp_flat, np.arange(n_block + 1) * width))
        self.tp_row = np.repeat(np.arange(n_block, dtype=np.int64), per_row)
        self.tp_cls = np.take(cls, self.tp_flat - self.tp_row * width)
        #: segment of every TP, non-decreasing
        self.seg = self.tp_row * n_classes + self.tp_cls
        self.n_tp = np.bincount(self.seg, minlength=self.n_seg)


def final_recall(
    block: StateBlock,
    keep: BoolArray | None,
    cls: NDArray[np.integer[Any]],
    npig: FloatArray,
    n_classes: int,
) -> tuple[FloatArray, IntArray]:
    """(recall float64 (B*K,), counted entries int64 (B*K,)) without the precision curve:
    what AR at a smaller maxDets needs."""
    segments = _Segments(block, keep, cls, n_classes)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = segments.n_tp.astype(np.float64) / npig
    return recall, segments.seg_len


def curves(
    block: StateBlock,
    keep: BoolArray | None,
    cls: NDArray[np.integer[Any]],
    npig: FloatArray,
    n_classes: int,
    out: FloatArray,
) -> tuple[FloatArray, IntArray]:
    """Precision at the recall points and final recall, from true positives only.

    pycocotools reads precision at the first entry whose recall reaches each
    recall point; recall only grows at a TP and precision only falls at an FP,
    so those entries and the envelope's maxima are all TPs. The TP's counts
    come from its position among the counted (TP or FP) entries.

    Args:
        block: B rows of states of predictions sorted by (class, -score, ...).
        keep: bool (width,) the columns within the maxDets limit, or None (all).
        cls: int64 (N,) non-decreasing class of each column.
        npig: float64 (B * K,) non-ignored ground truths per (row, class).
        n_classes: K.
        out: float64 (B*K, 101) receives the precision at the recall points (0 where a point
            is never reached); written in place so the caller's layout costs no copy.

    Returns:
        (recall float64 (B*K,), counted entries int64 (B*K,)).
    """
    s = _Segments(block, keep, cls, n_classes)
    seg = s.seg
    position = _counted_before(s.words, s.prefix, s.tp_flat) - np.take(  # counted before, in class
        s.at_bounds, s.tp_row * (n_classes + 1) + s.tp_cls
    )
    tp_count = np.arange(1, seg.shape[0] + 1) - np.take(np.cumsum(s.n_tp) - s.n_tp, seg)
    tp = tp_count.astype(np.float64)
    fp = (position + 1 - tp_count).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rc = tp / npig[seg]
    pr = tp / (fp + tp + np.spacing(1))

    # A TP reaches the recall points r < ``reached``; precision at point r is the
    # largest precision of the TPs reaching past r (pycocotools' envelope). TPs
    # sharing (segment, reached) form one run, as seg and rc never decrease.
    reached = recall_points_reached(rc)
    code = seg * (N_RECALL + 1) + reached
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]]) if code.size else code
    # best[101 - reached, segment]: a running maximum down axis 0 is then the
    # envelope; one ufunc call per recall point works across all segments
    # (``maximum.accumulate(axis=0)`` would walk each segment's column alone).
    best = np.full((N_RECALL + 1, s.n_seg), -1.0)
    at = (N_RECALL - reached[starts]) * s.n_seg + seg[starts]
    best.reshape(-1)[at] = np.maximum.reduceat(pr, starts) if code.size else pr
    for j in range(1, N_RECALL + 1):
        np.maximum(best[j], best[j - 1], out=best[j])
    envelope = best[N_RECALL - 1 :: -1]  # (101, segments): point r reads best[100 - r]
    np.maximum(envelope.T, 0.0, out=out)  # -1: the point is never reached
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = s.n_tp.astype(np.float64) / npig
    return recall, s.seg_len
