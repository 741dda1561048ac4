"""Mask IoU on run-length form for many (prediction, ground truth) pairs at once.

When the compiled kernels are built (``native.mask_iou``) each pair's two lists
of foreground runs are walked together in C, within the overlap of the two
masks' spans, on two threads for large calls (8 bytes per run of the ground
truths a call names). The numpy version below is the fallback, with the same
values to the bit.

pycocotools' ``rleIou`` merges the two run lists of every pair in C. Here the
pairs are taken a chunk at a time; for each chunk, the masks it names (each
side separately) are laid end to end on one pixel line, keeping for their
foreground runs the start positions and the foreground count before each run.
The number of foreground pixels of a mask before any position q is then one
``searchsorted`` away:

    F(q) = C[i] + min(q - S[i], L[i]),   i = last run with S[i] <= q

so the intersection of a pair is the sum, over the foreground runs [s, e) of
one mask, of F(e) - F(s) evaluated in the other mask. Only the columns where
both masks' bounding boxes overlap are visited, runs are taken from the mask
with fewer runs there, and pairs whose boxes do not overlap are 0 without any
run work, as in pycocotools. Nothing is indexed for the whole batch: memory
is O(chunk) (24 bytes per foreground run of the chunk's masks), and a mask no
pair names costs nothing.

The values are pycocotools' to the bit: intersection and union are exact
integers and the IoU is one float64 division of them. With ``gt_crowd`` the
denominator is the prediction's area.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.geometry import native
from sliceboard.evaluation.geometry.kernel import (
    BoolArray,
    FloatArray,
    IndexArray,
    Similarity,
    check_pairs,
    chunks,
    ranges,
    segment_ids,
)
from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.rle_strings import RleStrings


@dataclass(frozen=True, eq=False)
class _RunIndex:
    """Foreground runs of some masks of a batch, laid end to end on one pixel line.

    Built per chunk of pairs for just the masks the chunk names, so its size
    (24 bytes per run) is bounded by the chunk, not by the batch. Run 0 is a
    sentinel before the line (start = end = -1, nothing before it), so the last
    run starting at or before any position q >= 0 always exists, and the
    foreground pixels before q are ``shift[i] + min(q, end[i])`` for that run i.
    """

    start: NDArray[np.int64]  # (F+1,) line position of each foreground run, non-decreasing
    end: NDArray[np.int64]  # (F+1,) end (exclusive)
    shift: NDArray[np.int64]  # (F+1,) foreground pixels on the line before the run, minus start
    base: NDArray[np.int64]  # (m,) line position of each mask's pixel 0
    area: NDArray[np.int64]  # (m,)
    x0: NDArray[np.int64]  # (m,) inclusive column/row extents of the foreground runs
    y0: NDArray[np.int64]  # (a superset of the true extents when some runs are empty,
    x1: NDArray[np.int64]  # which only makes the bounding-box test skip fewer pairs)
    y1: NDArray[np.int64]

    @classmethod
    def build(cls, batch: RleBatch, masks: IndexArray) -> _RunIndex:
        """The index of ``batch``'s masks ``masks`` (m,), in that order."""
        n_runs = batch.offsets[masks + 1] - batch.offsets[masks]
        counts = batch.counts[ranges(batch.offsets[masks], n_runs)].astype(np.int64)
        # Arrays that need a leading element are filled one past it (no np.r_ copies).
        line = np.empty(counts.shape[0] + 1, dtype=np.int64)
        line[0] = 0
        np.cumsum(counts, out=line[1:])
        line_end = line[1:]
        run_off = np.cumsum(n_runs) - n_runs
        base = line[run_off]
        n_fg = n_runs // 2
        total_fg = int(n_fg.sum())
        fg_off = np.cumsum(n_fg) - n_fg
        # run index of foreground run f of mask k: run_off[k] + 1 + 2 * (f - fg_off[k])
        fg = np.repeat(run_off + 1 - 2 * fg_off, n_fg) + 2 * np.arange(total_fg, dtype=np.int64)
        line_start, run_end = (np.empty(total_fg + 1, dtype=np.int64) for _ in range(2))
        line_start[0] = run_end[0] = -1  # the sentinel run 0
        end = run_end[1:]
        np.take(line_end, fg, out=end)
        length = counts[fg]
        start = line_start[1:]
        np.subtract(end, length, out=start)
        total = np.empty(total_fg + 1, dtype=np.int64)
        total[0] = 0
        np.cumsum(length, out=total[1:])
        area = total[fg_off + n_fg] - total[fg_off]
        shift = np.empty(total_fg + 1, dtype=np.int64)
        shift[0] = 1
        np.subtract(total[:-1], start, out=shift[1:])
        # column and row of each run's first and last pixel, as pycocotools' toBbox
        # finds the extents (a run crossing a column widens the rows to the full height)
        mask_h = np.maximum(batch.heights[masks], 1)  # a 0-pixel mask has no foreground
        heights = np.repeat(mask_h, n_fg)
        col_first, row_first = np.divmod(start - np.repeat(base, n_fg), heights)
        row_last = row_first + length - 1
        spans = np.flatnonzero(row_last >= heights)
        row_first[spans] = 0
        row_last[spans] = heights[spans] - 1
        has = np.flatnonzero(n_fg > 0)
        m = masks.shape[0]
        x0, x1, y0, y1 = (np.zeros(m, np.int64) for _ in range(4))
        x0[has] = col_first[fg_off[has]]
        x1[has] = (end[fg_off[has] + n_fg[has] - 1] - 1 - base[has]) // mask_h[has]
        y0[has] = np.minimum.reduceat(row_first, fg_off[has])
        y1[has] = np.maximum.reduceat(row_last, fg_off[has])
        start, end = line_start, run_end
        return cls(start, end, shift, base, area, x0, y0, x1, y1)

    def window(
        self, mask: IndexArray, lo: IndexArray, hi: IndexArray
    ) -> tuple[IndexArray, IndexArray]:
        """First run index and number of runs of ``mask`` (P,) meeting local [lo, hi) (P,)."""
        base = self.base[mask]
        first = np.searchsorted(self.end, base + lo, side="right")
        last = np.searchsorted(self.start, base + hi, side="left")
        return first, np.maximum(last - first, 0)

    def _before(self, q: IndexArray, i: IndexArray) -> IndexArray:
        """Foreground pixels before q, given i = the last run starting at or before q."""
        return self.shift[i] + np.minimum(q, self.end[i])

    def covered(self, s: IndexArray, e: IndexArray) -> IndexArray:
        """Foreground pixels on the line within [s, e) for global positions s <= e (Q,).

        One binary search for s; e's run is then found by stepping forward from
        s's, which takes a step or two when the intervals are runs of a
        similar mask (a binary search finishes the rare long walks).
        """
        i = np.searchsorted(self.start, s, side="right") - 1
        j = i.copy()
        active = np.flatnonzero(j + 1 < self.start.shape[0])
        for _ in range(4):
            step = active[self.start[j[active] + 1] <= e[active]]
            j[step] += 1
            active = step[j[step] + 1 < self.start.shape[0]]
            if active.size == 0:
                break
        else:
            j[active] = np.searchsorted(self.start, e[active], side="right") - 1
        return self._before(e, j) - self._before(s, i)


def _intersections(
    query: _RunIndex,
    other: _RunIndex,
    q_mask: IndexArray,
    o_mask: IndexArray,
    lo: IndexArray,
    hi: IndexArray,
    window: tuple[IndexArray, IndexArray],
) -> NDArray[np.int64]:
    """Pixels shared by mask q_mask[p] of ``query`` and o_mask[p] of ``other`` within
    local positions [lo[p], hi[p]); int64 (P,). ``window`` is ``query.window(q_mask, lo, hi)``."""
    # Visiting pairs in the order of the other mask makes the positions looked
    # up in it ascend, which lets searchsorted reuse its previous bounds.
    order = np.argsort(o_mask, kind="stable")
    q_mask, o_mask, lo, hi = q_mask[order], o_mask[order], lo[order], hi[order]
    first, n_runs = window[0][order], window[1][order]
    q_base = query.base[q_mask]
    out = np.zeros(q_mask.shape[0], dtype=np.int64)
    for start, stop in chunks(n_runs):
        sl = slice(start, stop)
        runs = ranges(first[sl], n_runs[sl])
        pair = segment_ids(n_runs[sl])
        shift = (other.base[o_mask[sl]] - q_base[sl])[pair]
        s = np.maximum(query.start[runs], (q_base[sl] + lo[sl])[pair]) + shift
        e = np.minimum(query.end[runs], (q_base[sl] + hi[sl])[pair]) + shift
        inside = other.covered(s, e)
        out[sl] = np.bincount(pair, weights=inside, minlength=stop - start).astype(np.int64)
    result = np.empty_like(out)
    result[order] = out
    return result


def rle_iou(
    dt: RleBatch, gt: RleBatch, dt_index: IndexArray, gt_index: IndexArray, gt_crowd: BoolArray
) -> FloatArray:
    """IoU of mask pairs, bit-identical to ``pycocotools.mask.iou`` entries.

    Args:
        dt: prediction masks (D,).
        gt: ground-truth masks (G,).
        dt_index: int64 (P,) prediction of each pair.
        gt_index: int64 (P,) ground truth of each pair.
        gt_crowd: bool (P,) use intersection over the prediction's area.

    Returns:
        float64 (P,) in [0, 1].

    Raises:
        ValueError: a pair of masks of different sizes (pycocotools answers -1
            there; a size mismatch is an input error here).
    """
    return rle_similarity(dt, gt)(dt_index, gt_index, gt_crowd)


def rle_similarity(dt: RleBatch | RleStrings, gt: RleBatch) -> Similarity:
    """Builds the mask IoU kernel over batches dt (D,) and gt (G,); see ``rle_iou``.

    Nothing is precomputed: each call indexes, chunk by chunk of its pairs, only
    the masks those pairs name, so memory stays O(chunk) for any batch size.
    Predictions given as compressed strings are decoded pair by pair by the C
    kernel, or all at once on the first call without it.
    """
    if isinstance(dt, RleStrings):
        return _strings_similarity(dt, gt)
    dt_runs, gt_runs = dt.run_counts, gt.run_counts

    def kernel(dt_index: IndexArray, gt_index: IndexArray, gt_crowd: BoolArray) -> FloatArray:
        d, g, crowd = _checked_pairs(dt, gt, dt_index, gt_index, gt_crowd)
        fast = native.mask_iou(dt.counts, dt.offsets, gt.counts, gt.offsets, d, g, crowd)
        if fast is not None:
            return fast
        iou = np.zeros(d.shape[0], dtype=np.float64)
        for first, stop in chunks(dt_runs[d] + gt_runs[g], _PAIR_RUNS):
            iou[first:stop] = _chunk_iou(dt, gt, d[first:stop], g[first:stop], crowd[first:stop])
        return iou

    return kernel


def _checked_pairs(
    dt: RleBatch | RleStrings,
    gt: RleBatch,
    dt_index: IndexArray,
    gt_index: IndexArray,
    gt_crowd: BoolArray,
) -> tuple[IndexArray, IndexArray, BoolArray]:
    d, g, crowd = check_pairs(dt_index, gt_index, gt_crowd, len(dt), len(gt))
    mismatch = (dt.heights[d] != gt.heights[g]) | (dt.widths[d] != gt.widths[g])
    if mismatch.any():
        p = int(np.argmax(mismatch))
        raise ValueError(
            f"mask sizes differ: prediction {int(d[p])} is "
            f"{int(dt.heights[d[p]])}x{int(dt.widths[d[p]])}, ground truth {int(g[p])} is "
            f"{int(gt.heights[g[p]])}x{int(gt.widths[g[p]])}"
        )
    return d, g, crowd


def _strings_similarity(dt: RleStrings, gt: RleBatch) -> Similarity:
    """``rle_similarity`` for predictions kept as (checked) compressed strings."""
    decoded: list[Similarity] = []

    def kernel(dt_index: IndexArray, gt_index: IndexArray, gt_crowd: BoolArray) -> FloatArray:
        if not decoded:
            d, g, crowd = _checked_pairs(dt, gt, dt_index, gt_index, gt_crowd)
            fast = native.mask_iou(
                dt.chars, dt.offsets, gt.counts, gt.offsets, d, g, crowd, compressed=True
            )
            if fast is not None:
                return fast
            decoded.append(rle_similarity(dt.decode(), gt))  # numpy: decode once, keep
        return decoded[0](dt_index, gt_index, gt_crowd)

    return kernel


_PAIR_RUNS = 1 << 21
"""Runs (prediction's plus ground truth's, per pair) per chunk of pairs. Pairs
come grouped by prediction, so a chunk indexes far fewer distinct runs."""


def _chunk_iou(
    dt: RleBatch, gt: RleBatch, d: IndexArray, g: IndexArray, crowd: BoolArray
) -> FloatArray:
    """IoU of pairs (P,) of one chunk, from indices of just the masks they name."""
    d_masks, d = np.unique(d, return_inverse=True)
    g_masks, g = np.unique(g, return_inverse=True)
    dti, gti = _RunIndex.build(dt, d_masks), _RunIndex.build(gt, g_masks)
    x_lo = np.maximum(dti.x0[d], gti.x0[g])
    x_hi = np.minimum(dti.x1[d], gti.x1[g])
    inter = np.zeros(d.shape[0], dtype=np.int64)
    overlap = (dti.area[d] > 0) & (gti.area[g] > 0) & (x_lo <= x_hi)
    overlap &= np.maximum(dti.y0[d], gti.y0[g]) <= np.minimum(dti.y1[d], gti.y1[g])
    cand = np.flatnonzero(overlap)
    if cand.size:
        h = dt.heights[d_masks[d[cand]]]
        lo, hi = x_lo[cand] * h, (x_hi[cand] + 1) * h
        dc, gc = d[cand], g[cand]
        # walk the runs of whichever mask has fewer inside the shared columns
        d_first, d_runs = dti.window(dc, lo, hi)
        g_first, g_runs = gti.window(gc, lo, hi)
        from_dt = d_runs <= g_runs
        a = np.flatnonzero(from_dt)
        b = np.flatnonzero(~from_dt)
        inter_c = np.zeros(cand.shape[0], dtype=np.int64)
        inter_c[a] = _intersections(dti, gti, dc[a], gc[a], lo[a], hi[a], (d_first[a], d_runs[a]))
        inter_c[b] = _intersections(gti, dti, gc[b], dc[b], lo[b], hi[b], (g_first[b], g_runs[b]))
        inter[cand] = inter_c
    union = np.where(crowd, dti.area[d], dti.area[d] + gti.area[g] - inter)
    iou = np.zeros(d.shape[0], dtype=np.float64)
    hit = inter > 0
    iou[hit] = inter[hit].astype(np.float64) / union[hit].astype(np.float64)
    return iou
