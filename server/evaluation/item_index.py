"""Item -> rows indexes of a match table, so a slice costs what its rows cost.

A slice selects items; masking all P predictions and G ground truths for each
query made every slice cost as much as the whole table. The table is
immutable, so each one gets (lazily, once) a CSR index from item to its rows
and the inverse of its accumulate order; a slice then gathers its rows with
:func:`ranges` and sorts only them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sliceboard.evaluation.types import IntArray


def ranges(start: IntArray, stop: IntArray) -> IntArray:
    """Concatenation of ``arange(start[i], stop[i])`` over i: int64 (sum(stop - start),)."""
    lengths = (stop - start).astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(start.astype(np.int64) - (ends - lengths), lengths)
    out: IntArray = np.arange(total, dtype=np.int64) + shift
    return out


@dataclass(frozen=True, eq=False)
class ItemIndex:
    """Rows of each item: ``order[start[i]:start[i + 1]]`` (``order`` None: identity).

    Rows keep their input order within an item, so with ``order`` None a
    slice's rows come out ascending.
    """

    start: IntArray
    order: IntArray | None

    @classmethod
    def build(cls, item: IntArray, n_items: int) -> ItemIndex:
        item = np.asarray(item)
        counts = np.bincount(item, minlength=n_items) if item.size else np.zeros(n_items, np.int64)
        start = np.zeros(n_items + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        if item.size < 2 or bool(np.all(item[1:] >= item[:-1])):
            return cls(start=start, order=None)
        keys = item.astype(np.int32) if n_items < 2**31 else item
        return cls(start=start, order=np.argsort(keys, kind="stable").astype(np.int64))

    def rows(self, items: IntArray) -> IntArray:
        """Rows of ``items`` (int64 (n,)), item by item: int64."""
        positions = ranges(self.start[items], self.start[items + 1])
        return positions if self.order is None else self.order[positions]


def inverse_order(order: IntArray, size: int) -> IntArray:
    """``pos[order[k]] = k``; rows missing from ``order`` get ``size`` (sorts last)."""
    dtype = np.int32 if size < 2**31 - 1 else np.int64
    pos: IntArray = np.full(size, size, dtype=dtype)  # type: ignore[arg-type]
    pos[order] = np.arange(order.shape[0], dtype=dtype)
    return pos
