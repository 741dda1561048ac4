"""Instance masks as COCO run-length encodings, stored column-wise for many masks.

A mask of height h and width w is flattened in column-major (Fortran) order,
pixel (y, x) at position ``x * h + y``, and stored as alternating run lengths
starting with a background run (which may be 0). ``RleBatch`` keeps n such
masks as one concatenated ``counts`` array plus offsets, so that area, bounding
boxes and IoU (``rle_iou``) are numpy passes over all runs at once.
Every value matches pycocotools.mask (``area``, ``toBbox``, ``encode``,
``decode``, the compressed string codec) exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sliceboard.evaluation.geometry.kernel import chunks, ranges, segment_ids
from sliceboard.evaluation.geometry.rle_codec import decode_strings_uint32, encode_counts

_UINT32_WRAP = 1 << 32


def _sizes(sizes: ArrayLike, n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    arr = np.asarray(sizes, dtype=np.int64).reshape(-1, 2) if n else np.zeros((0, 2), np.int64)
    if arr.shape[0] != n:
        raise ValueError(f"got {arr.shape[0]} sizes for {n} masks")
    return arr[:, 0].copy(), arr[:, 1].copy()


def run_sums(counts: NDArray[np.uint32], offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """int64 (n,) sum of each mask's runs, a chunk of masks at a time (a reduceat to
    int64 casts its whole input first, which for all masks at once is 8 bytes per run)."""
    lengths = np.diff(offsets)
    sums = np.zeros(lengths.shape[0], np.int64)
    for first, stop in chunks(lengths):
        off = offsets[first : stop + 1]
        part = counts[off[0] : off[-1]].astype(np.int64)
        nonempty = np.flatnonzero(lengths[first:stop] > 0)
        if nonempty.size:  # the non-empty masks' starts rise strictly and stay below the end
            sums[first + nonempty] = np.add.reduceat(part, off[:-1][nonempty] - off[0])
    return sums


def rle_problem(counts: NDArray[np.int64], height: int, width: int) -> str | None:
    """Why run lengths ``counts`` (m,) do not describe an h x w mask, or None when they do."""
    if height < 0 or width < 0:
        return f"size [{height}, {width}] has a negative side"
    if counts.size and counts.min() < 0:
        return "run lengths must not be negative"
    total = int(counts.sum())
    if total != height * width:
        return (
            f"run lengths sum to {total}, but size [{height}, {width}] has {height * width} pixels"
        )
    return None


@dataclass(frozen=True, eq=False)
class RleBatch:
    """n masks in COCO RLE, concatenated.

    Attributes:
        counts: uint32 (R,) run lengths of all masks, background first.
        offsets: int64 (n+1,); mask i owns ``counts[offsets[i]:offsets[i+1]]``.
        heights: int64 (n,) mask heights h.
        widths: int64 (n,) mask widths w.
    """

    counts: NDArray[np.uint32]
    offsets: NDArray[np.int64]
    heights: NDArray[np.int64]
    widths: NDArray[np.int64]

    @classmethod
    def from_run_lengths(
        cls, counts: ArrayLike, offsets: ArrayLike, sizes: ArrayLike, *, validate: bool = True
    ) -> RleBatch:
        """Builds a batch from concatenated run lengths (R,), offsets (n+1,) and sizes (n, 2) as [h, w].

        uint32 run lengths are kept as given, without a copy (a batch never
        writes to its arrays); other integer types are range-checked and cast.

        Raises:
            ValueError: with ``validate``, when a mask's runs are negative, at least
                2**32, or do not sum to h * w; the message names the mask index.
        """
        arr = np.asarray(counts).reshape(-1)
        off = np.asarray(offsets, dtype=np.int64).reshape(-1)
        n = off.shape[0] - 1
        if n < 0 or off[0] != 0 or off[-1] != arr.shape[0] or np.any(np.diff(off) < 0):
            raise ValueError("offsets must rise from 0 to the number of runs")
        heights, widths = _sizes(sizes, n)
        if arr.dtype != np.uint32:  # uint32 runs are in range by their type
            c64 = arr.astype(np.int64, copy=False)
            if validate and c64.size and (c64.min() < 0 or c64.max() >= _UINT32_WRAP):
                owner = segment_ids(np.diff(off))
                bad = int(owner[np.argmax((c64 < 0) | (c64 >= _UINT32_WRAP))])
                raise ValueError(f"mask {bad}: run lengths must lie in [0, 2**32)")
            arr = c64.astype(np.uint32)
        if validate:
            sums = run_sums(arr, off)
            wrong = (sums != heights * widths) | (heights < 0) | (widths < 0)
            if wrong.any():
                i = int(np.argmax(wrong))
                runs = arr[off[i] : off[i + 1]].astype(np.int64)
                problem = rle_problem(runs, int(heights[i]), int(widths[i]))
                raise ValueError(f"mask {i}: {problem}")
        return cls(arr, off, heights, widths)

    @classmethod
    def from_counts(
        cls, counts: Sequence[ArrayLike], sizes: ArrayLike, *, validate: bool = True
    ) -> RleBatch:
        """From uncompressed RLE: one run-length list per mask and sizes (n, 2) as [h, w].

        This is what pycocotools' ``frPyObjects`` does for ``{"counts": [...], "size": ...}``
        (the runs are kept as given), plus validation.
        """
        parts = [np.asarray(c, dtype=np.int64).reshape(-1) for c in counts]
        lengths = np.fromiter((p.shape[0] for p in parts), dtype=np.int64, count=len(parts))
        flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return cls.from_run_lengths(flat, np.r_[0, np.cumsum(lengths)], sizes, validate=validate)

    @classmethod
    def from_strings(
        cls, strings: Sequence[str | bytes], sizes: ArrayLike, *, validate: bool = True
    ) -> RleBatch:
        """From compressed COCO ``counts`` strings (n,) and sizes (n, 2) as [h, w].

        Raises:
            ValueError: a malformed string or runs that do not fill the size.
        """
        counts, offsets = decode_strings_uint32(strings)
        return cls.from_run_lengths(counts, offsets, sizes, validate=validate)

    @classmethod
    def from_masks(cls, masks: ArrayLike) -> RleBatch:
        """Encodes masks (n, h, w) or one mask (h, w); nonzero is foreground (``mask.encode``)."""
        arr = np.asarray(masks)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ValueError("masks must have shape (h, w) or (n, h, w)")
        n, h, w = arr.shape
        flat = (arr != 0).transpose(0, 2, 1).reshape(n, h * w)
        if h * w == 0:
            return cls.from_run_lengths(np.zeros(n, np.int64), np.arange(n + 1), [(h, w)] * n)
        # A boundary wherever a pixel differs from its predecessor; each mask
        # starts from an implicit background pixel, so a foreground first pixel
        # yields the leading 0-length background run.
        prev = np.concatenate([np.zeros((n, 1), bool), flat[:, :-1]], axis=1)
        rows, cols = np.nonzero(flat != prev)
        ends = np.full(n, h * w, dtype=np.int64)
        all_rows = np.concatenate([rows, np.arange(n)])
        all_pos = np.concatenate([cols.astype(np.int64), ends])
        order = np.lexsort((all_pos, all_rows))
        all_rows, all_pos = all_rows[order], all_pos[order]
        lengths = np.bincount(all_rows, minlength=n).astype(np.int64)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        local = np.arange(all_pos.shape[0]) - offsets[all_rows]
        counts = np.where(local == 0, all_pos, all_pos - np.r_[0, all_pos[:-1]])
        return cls.from_run_lengths(counts, offsets, [(h, w)] * n, validate=False)

    @classmethod
    def concat(cls, batches: Sequence[RleBatch]) -> RleBatch:
        """Joins batches in order; one batch is returned as it is, not copied."""
        if not batches:
            return cls.from_run_lengths(np.zeros(0), np.zeros(1), np.zeros((0, 2)))
        if len(batches) == 1:
            return batches[0]
        shifts = np.cumsum([0] + [b.counts.shape[0] for b in batches[:-1]])
        offsets = np.concatenate(
            [np.zeros(1, np.int64)]
            + [b.offsets[1:] + s for b, s in zip(batches, shifts, strict=True)]
        )
        return cls(
            np.concatenate([b.counts for b in batches]),
            offsets,
            np.concatenate([b.heights for b in batches]),
            np.concatenate([b.widths for b in batches]),
        )

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def run_counts(self) -> NDArray[np.int64]:
        """int64 (n,) number of runs of each mask."""
        return np.diff(self.offsets)

    def runs(self, i: int) -> NDArray[np.uint32]:
        """The run lengths of mask i."""
        return self.counts[self.offsets[i] : self.offsets[i + 1]]

    def take(self, index: ArrayLike) -> RleBatch:
        """The masks at ``index`` (k,), in that order."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        lengths = self.run_counts[idx]
        starts = self.offsets[idx]
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        counts = np.empty(int(offsets[-1]), dtype=self.counts.dtype)
        for first, stop in chunks(lengths):  # gather indices of one chunk at a time
            part = ranges(starts[first:stop], lengths[first:stop])
            counts[offsets[first] : offsets[stop]] = self.counts[part]
        return RleBatch(counts, offsets, self.heights[idx], self.widths[idx])

    def run_ends(self) -> NDArray[np.int64]:
        """int64 (R,) end position (exclusive, within its own mask) of every run."""
        cs = np.cumsum(self.counts, dtype=np.int64)
        base = np.concatenate([np.zeros(1, np.int64), cs])[self.offsets[:-1]]
        ends: NDArray[np.int64] = cs - np.repeat(base, self.run_counts)
        return ends

    def to_strings(self) -> list[str]:
        """Compressed COCO ``counts`` strings, identical to pycocotools' (n,)."""
        return encode_counts(self.counts, self.offsets)

    def to_dicts(self) -> list[dict[str, object]]:
        """COCO RLE objects ``{"size": [h, w], "counts": str}`` (n,)."""
        return [
            {"size": [h, w], "counts": s}
            for h, w, s in zip(
                self.heights.tolist(), self.widths.tolist(), self.to_strings(), strict=True
            )
        ]

    def foreground_runs_by_chunk(
        self,
    ) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]]:
        """``foreground_runs`` a few masks at a time, to bound the memory of temporaries."""
        for first, stop in chunks(self.run_counts):
            off = self.offsets[first : stop + 1]
            counts = self.counts[off[0] : off[-1]]
            n_fg = np.diff(off) // 2
            owner = segment_ids(n_fg)
            index = (off[:-1] - off[0])[owner] + 1 + 2 * ranges(np.zeros_like(n_fg), n_fg)
            ends = np.cumsum(counts, dtype=np.int64)
            before_mask = np.concatenate([np.zeros(1, np.int64), ends])[off[:-1] - off[0]]
            length = counts[index].astype(np.int64)
            start = ends[index] - length - before_mask[owner]
            keep = length > 0
            yield owner[keep] + first, start[keep], length[keep]

    def foreground_runs(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """The non-empty foreground runs: ``(owner, start, length)``, each int64 (F,).

        ``start`` is the run's first pixel within its own mask; runs are in mask
        order and, within a mask, in pixel order.
        """
        parts = list(self.foreground_runs_by_chunk())
        if not parts:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        owner, start, length = (np.concatenate(p) for p in zip(*parts, strict=True))
        return owner, start, length

    def area(self) -> NDArray[np.int64]:
        """int64 (n,) foreground pixel counts (``mask.area``)."""
        return self._summary[0].copy()

    def extents(
        self,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """Inclusive pixel extents ``(x0, y0, x1, y1)``, each int64 (n,), as ``toBbox`` finds them.

        A foreground run that crosses a column boundary widens y to the full
        height, as in pycocotools. Masks without foreground get x0 = w, y0 = h,
        x1 = y1 = 0 (pycocotools' initial values).
        """
        _, x0, y0, x1, y1 = self._summary
        return x0.copy(), y0.copy(), x1.copy(), y1.copy()

    @cached_property
    def _summary(
        self,
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.int64],
    ]:
        """Area and extents of every mask, from one pass over the foreground runs.

        A chunk holds whole masks and their runs in pixel order, so the first
        run gives x0 and the last x1 directly; a run continues into the next
        column exactly when its first row plus its length passes the height,
        which saves a second division per run.
        """
        area = np.zeros(len(self), np.int64)
        x0, y0 = self.widths.copy(), self.heights.copy()
        x1, y1 = np.zeros(len(self), np.int64), np.zeros(len(self), np.int64)
        for own, start, length in self.foreground_runs_by_chunk():
            if own.size == 0:
                continue
            h = self.heights[own]
            x_start, y_start = np.divmod(start, h)
            y_end = y_start + length - 1
            spans = y_end >= h
            first = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
            last = np.r_[first[1:] - 1, own.shape[0] - 1]
            masks = own[first]
            area[masks] = np.add.reduceat(length, first)
            x0[masks] = x_start[first]
            x1[masks] = (start[last] + length[last] - 1) // h[last]
            y0[masks] = np.minimum.reduceat(np.where(spans, 0, y_start), first)
            y1[masks] = np.maximum.reduceat(np.where(spans, h - 1, y_end), first)
        return area, x0, y0, x1, y1

    def bbox(self) -> NDArray[np.float64]:
        """float64 (n, 4) boxes [x, y, width, height], exactly ``mask.toBbox``.

        An empty mask with fewer than two runs gives [0, 0, 0, 0]; with two or more
        runs pycocotools' unsigned arithmetic gives [w, h, 2**32 - w + 1,
        2**32 - h + 1], and so does this, to stay bit-identical.
        """
        x0, y0, x1, y1 = self.extents()
        out = np.stack(
            [x0, y0, (x1 - x0 + 1) % _UINT32_WRAP, (y1 - y0 + 1) % _UINT32_WRAP], axis=1
        ).astype(np.float64)
        out[self.run_counts < 2] = 0.0
        return out

    def to_mask(self, i: int) -> NDArray[np.bool_]:
        """Mask i as a bool (h, w) array (``mask.decode``)."""
        h, w = int(self.heights[i]), int(self.widths[i])
        runs = self.runs(i).astype(np.int64)
        values = (np.arange(runs.shape[0]) % 2).astype(bool)
        flat = np.repeat(values, runs)
        return flat.reshape(w, h).T.copy()
