"""The joint histogram of two label maps of one image: pixels per (ground-truth index,
predicted index) pair. Everything pixel- and segment-level is derived from it: the label x
label confusion (indices mapped to labels), a segment's area (a row or column sum) and the
intersection of two segments (one cell).

Algorithm: the run ends of both maps, merged, cut the image into spans inside which neither
map changes; each span's indices are read by binary search and its length added to its pair.
The cost follows the runs (a few per row on real masks), not the pixels. Maps whose runs are
nearly as many as their pixels (noise) are expanded and counted pixel by pixel instead, which
is then cheaper than the merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.label_maps import LabelMap

#: Above this many runs per pixel (both maps together) the dense count is cheaper.
DENSE_RUNS_PER_PIXEL = 1 / 8


@dataclass(frozen=True)
class JointCounts:
    """Non-zero cells of the joint histogram: parallel arrays, ``gt`` then ``dt`` ascending."""

    gt: NDArray[np.int64]  # ground-truth index of the cell
    dt: NDArray[np.int64]  # predicted index of the cell
    count: NDArray[np.int64]  # pixels

    @property
    def total(self) -> int:
        return int(self.count.sum())


def _codes(values: NDArray[np.uint16]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(distinct values ascending, the code of each value): small dense codes to bin on.
    A lookup table, not ``np.unique``: values are 16-bit, and no sort is needed."""
    present = np.flatnonzero(np.bincount(values))
    lookup = np.zeros(int(present[-1]) + 1, dtype=np.int64)
    lookup[present] = np.arange(present.shape[0])
    return present.astype(np.int64), lookup[values]


def _merged(
    a: NDArray[np.int64], b: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """The sorted union of two ascending arrays of run ends, and for each of its values the
    index of the run of ``a`` and of ``b`` it falls in (how many ends of each lie below it).

    A stable argsort of the concatenation merges the two sorted runs in linear time, and a
    running count of ``a``'s elements gives both indices; ``np.union1d`` plus two binary
    searches took 3x as long. On equal values ``a``'s element sorts first, so a value's first
    position has exactly the elements below it before it."""
    both = np.concatenate([a, b])
    order = np.argsort(both, kind="stable")
    ordered = both[order]
    first = np.empty(ordered.shape[0], dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    from_a = order < a.shape[0]
    a_before = np.cumsum(from_a) - from_a
    at = np.flatnonzero(first)
    return ordered[at], a_before[at], at - a_before[at]


def _from_codes(
    gt_present: NDArray[np.int64],
    dt_present: NDArray[np.int64],
    keys: NDArray[np.int64],
    weights: NDArray[np.int64] | None,
) -> JointCounts:
    n_dt = dt_present.shape[0]
    size = gt_present.shape[0] * n_dt
    hist = np.bincount(keys, weights=weights, minlength=size)
    cells = np.flatnonzero(hist)
    return JointCounts(
        gt=gt_present[cells // n_dt],
        dt=dt_present[cells % n_dt],
        count=np.rint(hist[cells]).astype(np.int64),
    )


def joint_counts(gt: LabelMap, dt: LabelMap) -> JointCounts:
    """Pixels per (gt index, dt index) of two maps of the same size."""
    if (gt.height, gt.width) != (dt.height, dt.width):
        raise ValueError(
            f"label maps differ in size: {gt.height}x{gt.width} and {dt.height}x{dt.width}"
        )
    gt_present, gt_codes = _codes(gt.values)
    dt_present, dt_codes = _codes(dt.values)
    n_dt = dt_present.shape[0]
    if (gt.runs + dt.runs) > gt.pixels * DENSE_RUNS_PER_PIXEL:
        gt_pixels = np.repeat(gt_codes, np.diff(gt.ends, prepend=0))
        dt_pixels = np.repeat(dt_codes, np.diff(dt.ends, prepend=0))
        return _from_codes(gt_present, dt_present, gt_pixels * n_dt + dt_pixels, None)
    # span [bounds[k-1], bounds[k]) lies in the run whose end is the first >= bounds[k]
    bounds, gt_run, dt_run = _merged(gt.ends, dt.ends)
    lengths = np.diff(bounds, prepend=0)
    g = gt_codes[gt_run]
    d = dt_codes[dt_run]
    return _from_codes(gt_present, dt_present, g * n_dt + d, lengths)


def single_counts(gt: LabelMap) -> JointCounts:
    """The histogram of a ground truth with no prediction: every pixel against index -1."""
    counts = gt.counts()
    keys = np.array(sorted(counts), dtype=np.int64)
    return JointCounts(
        gt=keys,
        dt=np.full(keys.shape[0], -1, dtype=np.int64),
        count=np.array([counts[k] for k in keys.tolist()], dtype=np.int64),
    )
