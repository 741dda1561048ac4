"""The similarity-kernel contract shared by every geometry type.

A kernel is built once from a batch of predictions and a batch of ground truths
and then scores any flat list of candidate pairs, so the matcher can score the
pairs of many items in one call::

    kernel(dt_index: int64 (P,), gt_index: int64 (P,), gt_crowd: bool (P,)) -> float64 (P,)

``gt_crowd[p]`` asks for COCO's crowd rule on pair ``p``: intersection over the
prediction's own size instead of over the union.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

IndexArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


class Similarity(Protocol):
    """Scores candidate pairs ``(dt_index[p], gt_index[p])``; returns float64 (P,)."""

    def __call__(
        self, dt_index: IndexArray, gt_index: IndexArray, gt_crowd: BoolArray
    ) -> FloatArray: ...


def check_pairs(
    dt_index: IndexArray, gt_index: IndexArray, gt_crowd: BoolArray, n_dt: int, n_gt: int
) -> tuple[IndexArray, IndexArray, BoolArray]:
    """Validates a pair list against batch sizes; returns the arrays as int64/int64/bool (P,).

    Raises:
        ValueError: the three arrays differ in length or an index is out of range.
    """
    d = np.asarray(dt_index, dtype=np.int64).reshape(-1)
    g = np.asarray(gt_index, dtype=np.int64).reshape(-1)
    c = np.asarray(gt_crowd, dtype=bool).reshape(-1)
    if not (d.shape == g.shape == c.shape):
        raise ValueError(
            f"pair arrays differ in length: dt {d.shape[0]}, gt {g.shape[0]}, crowd {c.shape[0]}"
        )
    if d.size:
        if d.min() < 0 or d.max() >= n_dt:
            raise ValueError(f"dt_index out of range [0, {n_dt})")
        if g.min() < 0 or g.max() >= n_gt:
            raise ValueError(f"gt_index out of range [0, {n_gt})")
    return d, g, c


def segment_ids(lengths: NDArray[np.int64]) -> IndexArray:
    """For segment lengths (n,), the owning segment of every element: int64 (lengths.sum(),)."""
    return np.repeat(np.arange(lengths.shape[0], dtype=np.int64), lengths)


def ranges(starts: NDArray[np.int64], lengths: NDArray[np.int64]) -> IndexArray:
    """Concatenation of ``arange(starts[i], starts[i] + lengths[i])`` for all i, int64 (sum,)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.cumsum(lengths) - lengths
    return np.repeat(starts - first, lengths) + np.arange(total, dtype=np.int64)


CHUNK_ELEMENTS = 1 << 18
"""Elements per numpy pass in the heavy kernels. Temporaries of a few MB stay in
cache and are reused by the allocator; arrays of tens of MB are mapped fresh
from the OS on every operation, which made whole-batch passes several times
slower."""


def chunks(weights: NDArray[np.int64], budget: int | None = None) -> list[tuple[int, int]]:
    """Splits items (n,) into consecutive ``(start, stop)`` ranges of total weight about ``budget``.

    Every range holds at least one item, so a single heavy item is its own chunk.
    ``budget`` defaults to ``CHUNK_ELEMENTS``.
    """
    budget = CHUNK_ELEMENTS if budget is None else budget
    n = int(weights.shape[0])
    if n == 0:
        return []
    cum = np.cumsum(weights)
    out: list[tuple[int, int]] = []
    start = 0
    while start < n:
        done = int(cum[start - 1]) if start else 0
        stop = int(np.searchsorted(cum, done + budget, side="right"))
        stop = min(max(stop, start + 1), n)
        out.append((start, stop))
        start = stop
    return out
