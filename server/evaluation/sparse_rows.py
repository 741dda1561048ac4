"""Compressed sparse rows for per-threshold prediction detail (matched gt, IoU).

Most predictions match nothing at most thresholds, so a dense (T0, P) matrix
is mostly fill value: at 50,000 images two of them took 570 MB. This keeps
only the set entries in CSR form and reads whole rows back as dense arrays,
so ``m[t]`` (a (P,) row) and ``m[t, p]`` (one value) work as on a matrix.

Shapes: ``row_start`` int64 (R+1,), ``col`` int64 (M,), ``value`` (M,).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, eq=False)
class SparseRows:
    """An (R, N) matrix of ``fill`` except at M stored entries, grouped by row."""

    shape: tuple[int, int]
    fill: Any
    row_start: NDArray[np.int64]
    col: NDArray[np.int64]
    value: NDArray[Any]

    @classmethod
    def from_entries(
        cls,
        rows: NDArray[np.integer],
        cols: NDArray[np.integer],
        values: NDArray[Any],
        shape: tuple[int, int],
        fill: Any,
    ) -> SparseRows:
        """From (row, col, value) entries (M,) with distinct (row, col)."""
        n_rows = int(shape[0])
        keys = np.asarray(rows)
        if n_rows < 2**15:  # numpy radix-sorts 16-bit keys
            keys = keys.astype(np.int16)
        order = np.argsort(keys, kind="stable")
        counts = np.bincount(rows, minlength=n_rows)
        return cls(
            shape=(n_rows, int(shape[1])),
            fill=fill,
            row_start=np.r_[0, np.cumsum(counts)].astype(np.int64),
            col=np.take(cols, order).astype(np.int64),
            value=np.take(values, order),
        )

    @classmethod
    def from_dense(cls, dense: NDArray[Any], fill: Any) -> SparseRows:
        """Keeps the entries of ``dense`` (R, N) that differ from ``fill``."""
        rows, cols = np.nonzero(dense != fill)
        return cls.from_entries(rows, cols, dense[rows, cols], dense.shape, fill)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.value.dtype

    def row(self, r: int) -> NDArray[Any]:
        """Row ``r`` as a dense (N,) array."""
        if not -self.shape[0] <= r < self.shape[0]:
            raise IndexError(f"row {r} out of range for {self.shape[0]} rows")
        r %= self.shape[0]
        out = np.full(self.shape[1], self.fill, dtype=self.value.dtype)
        lo, hi = int(self.row_start[r]), int(self.row_start[r + 1])
        out[self.col[lo:hi]] = self.value[lo:hi]
        return out

    @cached_property
    def _sorted(self) -> tuple[NDArray[np.int64], NDArray[Any]]:
        """(col, value) with columns ascending within each row (built on first use)."""
        col = self.col
        if col.shape[0] < 2:
            return col, self.value
        step = np.diff(col)
        row_first = self.row_start[1:-1]
        step[row_first[(row_first > 0) & (row_first < col.shape[0])] - 1] = 1
        if bool(np.all(step > 0)):
            return col, self.value
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.row_start))
        order = np.lexsort((col, rows))
        return col[order], self.value[order]

    def take(self, r: int, cols: NDArray[np.integer]) -> NDArray[Any]:
        """Values of row ``r`` at columns ``cols`` (n,): ``m[r][cols]`` without the dense row.

        Costs O(n log M_r): a slice reads its own entries, not all N columns.
        """
        if not -self.shape[0] <= r < self.shape[0]:
            raise IndexError(f"row {r} out of range for {self.shape[0]} rows")
        r %= self.shape[0]
        col, value = self._sorted
        lo, hi = int(self.row_start[r]), int(self.row_start[r + 1])
        out = np.full(cols.shape[0], self.fill, dtype=self.value.dtype)
        if hi == lo or cols.shape[0] == 0:
            return out
        at = np.searchsorted(col[lo:hi], cols)
        found = np.minimum(at, hi - lo - 1) + lo
        hit = col[found] == cols
        out[hit] = value[found[hit]]
        return out

    def __getitem__(self, key: int | tuple[int, int]) -> Any:
        if isinstance(key, tuple):
            r, c = (int(k) for k in key)
            r %= max(self.shape[0], 1)
            lo, hi = int(self.row_start[r]), int(self.row_start[r + 1])
            hit = np.flatnonzero(self.col[lo:hi] == c % self.shape[1])
            return self.value[lo + hit[0]] if hit.shape[0] else self.value.dtype.type(self.fill)
        return self.row(int(key))

    def to_dense(self) -> NDArray[Any]:
        """The whole (R, N) matrix."""
        out = np.full(self.shape, self.fill, dtype=self.value.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.row_start))
        out[rows, self.col] = self.value
        return out

    def to_arrays(self, prefix: str) -> dict[str, NDArray[Any]]:
        """Arrays named ``{prefix}.shape`` etc., for an npz blob."""
        return {
            f"{prefix}.shape": np.array(self.shape, dtype=np.int64),
            f"{prefix}.fill": np.array(self.fill, dtype=self.value.dtype),
            f"{prefix}.row_start": self.row_start,
            f"{prefix}.col": self.col,
            f"{prefix}.value": self.value,
        }

    @classmethod
    def from_arrays(cls, get: Any, prefix: str) -> SparseRows:
        """Inverse of :meth:`to_arrays`; ``get`` maps a name to an array."""
        shape = np.asarray(get(f"{prefix}.shape"))
        return cls(
            shape=(int(shape[0]), int(shape[1])),
            fill=np.asarray(get(f"{prefix}.fill")).item(),
            row_start=np.asarray(get(f"{prefix}.row_start"), dtype=np.int64),
            col=np.asarray(get(f"{prefix}.col"), dtype=np.int64),
            value=np.asarray(get(f"{prefix}.value")),
        )
