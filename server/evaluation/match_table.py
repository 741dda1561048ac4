"""The match table: every prediction's and ground truth's outcome on every row.

Matching inside an item never looks at another item, so any subset of items
(a slice) is evaluated by selecting rows of this table - no re-matching.

Rows are (area range, IoU threshold) settings: ``row_area`` (R,) indexes
``area_names``/``area_low``/``area_high`` (A,), ``row_threshold`` (R,) holds the
exact threshold (COCO's linspace values, so 0.8999999999999999, not 0.9). Rows
``row_area * n_grid + t`` for t < ``n_grid`` form COCO's (A, T) grid; rows
whose area is index 0 ("all") are the *threshold rows* ``all_rows`` (T0,); the
per-object detail (matched partner, IoU, confusion partner) is kept for those.

Shapes: P predictions, G ground truths, R rows, T0 threshold rows.

- ``dt_state`` int8 (R, P): NOT_EVALUATED (-1, beyond maxDets), FP (0), TP (1),
  IGNORED (2: matched an ignored gt, or unmatched and outside the area range).
- ``dt_rank`` int64 (P,): rank in its maxDets group, by score.
- ``dt_metric_order`` int64 (E,): the evaluated predictions (within maxDets)
  sorted by (label, -score, item, input order) - pycocotools' accumulate
  order; a slice filters it.
- ``dt_gt`` (T0, P) int32: matched gt row or -1. ``dt_iou`` (T0, P) float32.
- ``dt_confused_gt`` (T0, P) int32, or (0, P) when not computed: for a false
  positive, the gt of another label it matches when labels are ignored among
  left-over objects, else -1.
  These three are :class:`SparseRows` (most entries are -1 / 0): ``m[t0]``
  gives a dense (P,) row, ``m[t0, p]`` one value.
- ``dt_class`` int32 (R, P) or (0, P): the class a prediction is counted in
  (its matched gt's label) - stored only when labels may cross-match.
- ``gt_dt`` int32 (T0, G): matching prediction row or -1 (crowd regions: -1).

Slices: the table never changes, so it builds (lazily, once, cached on the
object) what lets a slice cost its own rows: item -> rows indexes
(``dt_index``/``gt_index``, :meth:`item_rows`), each prediction's position in
``dt_metric_order`` and that order's labels/ranks, and ``metric_state`` - the
grid's states transposed into accumulate order, a second copy of ``dt_state``
(E x A*n_grid bytes: 15 MB at 380k predictions, 150 MB at 3.8M).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.item_index import ItemIndex, inverse_order
from sliceboard.evaluation.sparse_rows import SparseRows
from sliceboard.evaluation.types import BoolArray, EvaluationInputError, FloatArray, IntArray

NOT_EVALUATED = -1
FALSE_POSITIVE = 0
TRUE_POSITIVE = 1
IGNORED = 2

_SPARSE = {"dt_gt": -1, "dt_iou": 0.0, "dt_confused_gt": -1}
_SCALARS = ("n_items", "n_labels", "n_grid", "class_agnostic", "matching", "empty_classes")


@dataclass(frozen=True, eq=False)
class MatchTable:
    """Flat arrays describing one evaluation (see module docstring for shapes)."""

    n_items: int
    n_labels: int
    n_grid: int
    class_agnostic: bool
    matching: str
    empty_classes: str
    max_detections: IntArray
    area_names: NDArray[np.str_]
    area_low: FloatArray
    area_high: FloatArray
    row_area: IntArray
    row_threshold: FloatArray
    dt_item: IntArray
    dt_label: IntArray
    dt_score: FloatArray
    dt_rank: IntArray
    dt_metric_order: IntArray
    dt_state: NDArray[np.int8]
    dt_gt: SparseRows
    dt_iou: SparseRows
    dt_confused_gt: SparseRows
    dt_class: NDArray[np.int32]
    gt_item: IntArray
    gt_label: IntArray
    gt_area: FloatArray
    gt_iscrowd: BoolArray
    gt_ignore: BoolArray
    gt_dt: NDArray[np.int32]

    @property
    def all_rows(self) -> IntArray:
        """Row indices on the first ("all") area range: int64 (T0,)."""
        return np.flatnonzero(self.row_area == 0)

    def row_index(self, iou_threshold: float, area: int | str = 0) -> int:
        """The row evaluating ``iou_threshold`` on an area range.

        The threshold is matched to the stored value within 1e-9, so 0.9 finds
        COCO's 0.8999999999999999.

        Raises:
            EvaluationInputError: no such row was evaluated.
        """
        area_index = self.area_index(area)
        hits = np.flatnonzero(
            (self.row_area == area_index) & (np.abs(self.row_threshold - iou_threshold) < 1e-9)
        )
        if hits.shape[0] == 0:
            available = sorted({round(float(t), 6) for t in self.row_threshold})
            raise EvaluationInputError(
                f"IoU threshold {iou_threshold} was not evaluated on area range "
                f"'{self.area_names[area_index]}'; available: {available}"
            )
        return int(hits[0])

    def area_index(self, area: int | str) -> int:
        """Index of an area range given by index or name."""
        if isinstance(area, str):
            names = [str(n) for n in self.area_names]
            if area not in names:
                raise EvaluationInputError(f"unknown area range {area!r}; known: {names}")
            return names.index(area)
        if not 0 <= area < self.area_names.shape[0]:
            raise EvaluationInputError(f"area range index {area} out of range")
        return int(area)

    def dt_class_row(self, row: int) -> IntArray:
        """The class each prediction counts in on ``row``: int64 (P,)."""
        if self.dt_class.shape[0]:
            out: IntArray = self.dt_class[row].astype(np.int64)
            return out
        return self.dt_label

    @staticmethod
    def metric_order(label: IntArray, score: FloatArray, item: IntArray) -> IntArray:
        """Order by (label, -score, item, input order): int64 (P,)."""
        return np.lexsort((item, -score, label)).astype(np.int64)

    @staticmethod
    def metric_order_from(item_order: IntArray, label: IntArray, score: FloatArray) -> IntArray:
        """:meth:`metric_order` of the rows in ``item_order``, which must already be
        sorted by item with input order breaking ties among equal (label, score):
        two stable sorts instead of a three-key lexsort."""
        by_score = item_order[np.argsort(-score[item_order], kind="stable")]
        labels = label[by_score]
        small = labels.astype(np.int16) if labels.size and labels.max() < 2**15 else labels
        return by_score[np.argsort(small, kind="stable")].astype(np.int64)

    def item_selection(self, item_mask: BoolArray | None) -> tuple[BoolArray, BoolArray]:
        """(prediction mask (P,), ground-truth mask (G,)) of the selected items."""
        if item_mask is None:
            return (
                np.ones(self.dt_item.shape[0], dtype=bool),
                np.ones(self.gt_item.shape[0], dtype=bool),
            )
        mask = self._checked_mask(item_mask)
        return mask[self.dt_item], mask[self.gt_item]

    @cached_property
    def dt_index(self) -> ItemIndex:
        """Predictions of each item (built on first use; the table never changes)."""
        return ItemIndex.build(self.dt_item, self.n_items)

    @cached_property
    def gt_index(self) -> ItemIndex:
        """Ground truths of each item (built on first use)."""
        return ItemIndex.build(self.gt_item, self.n_items)

    @cached_property
    def dt_metric_position(self) -> IntArray:
        """Position of each evaluated prediction in ``dt_metric_order``; P for the
        others (beyond maxDets, kept in the order by blobs of older versions): (P,)."""
        n = self.dt_item.shape[0]
        pos = inverse_order(self.dt_metric_order, n)
        beyond = self.dt_rank >= int(self.max_detections.max(initial=0))
        if bool(beyond.any()):
            pos[beyond] = n
        return pos

    @cached_property
    def metric_label(self) -> NDArray[np.int32]:
        """``dt_label`` in ``dt_metric_order``: int32 (E,), read at ascending positions."""
        return self.dt_label[self.dt_metric_order].astype(np.int32)

    @cached_property
    def metric_rank(self) -> NDArray[np.int32]:
        """``dt_rank`` in ``dt_metric_order``: int32 (E,)."""
        return self.dt_rank[self.dt_metric_order].astype(np.int32)

    @cached_property
    def metric_state(self) -> NDArray[np.int8]:
        """``dt_state`` of the COCO grid rows, transposed and in ``dt_metric_order``:
        int8 (E, A * n_grid), C order (built on first use).

        A slice's states are then a gather of whole, ascending rows
        (``metric_state[sorted positions]``) instead of one scattered gather
        per row of the table; it costs a second copy of the grid's states.
        """
        n_rows = self.area_names.shape[0] * self.n_grid
        n = self.dt_item.shape[0]
        by_prediction = np.empty((n, n_rows), dtype=np.int8)
        step = 1 << 16  # transposed a cache-sized slab at a time
        for lo in range(0, n, step):
            by_prediction[lo : lo + step] = self.dt_state[:n_rows, lo : lo + step].T
        out: NDArray[np.int8] = np.take(by_prediction, self.dt_metric_order, axis=0)
        return out

    def item_rows(self, item_mask: BoolArray | None) -> tuple[IntArray, IntArray]:
        """(prediction rows, ground-truth rows) of the selected items, int64.

        Costs the selected rows, not the table: rows come from the item
        indexes, grouped by item (ascending when the table is item-sorted).
        """
        if item_mask is None:
            return (
                np.arange(self.dt_item.shape[0], dtype=np.int64),
                np.arange(self.gt_item.shape[0], dtype=np.int64),
            )
        items = np.flatnonzero(self._checked_mask(item_mask))
        return self.dt_index.rows(items), self.gt_index.rows(items)

    def metric_positions(self, rows: IntArray) -> IntArray:
        """Positions in ``dt_metric_order`` of the evaluated predictions among ``rows``,
        ascending: the slice's accumulate order is ``dt_metric_order[result]``."""
        n = self.dt_item.shape[0]
        if rows.shape[0] == n and np.array_equal(rows, np.arange(n)):
            every = self.metric_rank < int(self.max_detections.max(initial=0))
            return np.flatnonzero(every)  # every prediction: no sort
        pos = np.sort(self.dt_metric_position[rows].astype(np.int64))
        out: IntArray = pos[: int(np.searchsorted(pos, n))]
        return out

    def _checked_mask(self, item_mask: BoolArray) -> BoolArray:
        mask = np.asarray(item_mask, dtype=bool).reshape(-1)
        if mask.shape[0] != self.n_items:
            raise EvaluationInputError(
                f"item_mask has {mask.shape[0]} entries, the table has {self.n_items} items"
            )
        return mask

    def to_arrays(self) -> dict[str, NDArray[np.generic]]:
        """All fields as numpy arrays (scalars 0-d), e.g. for ``np.savez``."""
        out: dict[str, NDArray[np.generic]] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, SparseRows):
                out.update(value.to_arrays(f.name))
            else:
                out[f.name] = np.asarray(value)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[np.generic]]) -> MatchTable:
        """Inverse of :meth:`to_arrays` (accepts a dict or an ``np.load`` result)."""
        get = arrays.__getitem__
        values: dict[str, object] = {}
        try:
            for f in fields(cls):
                if f.name == "dt_metric_order" and f.name not in arrays:  # derived
                    values[f.name] = cls.metric_order(
                        np.asarray(get("dt_label")),
                        np.asarray(get("dt_score")),
                        np.asarray(get("dt_item")),
                    )
                elif f.name in _SPARSE:
                    values[f.name] = (
                        SparseRows.from_dense(np.asarray(get(f.name)), _SPARSE[f.name])
                        if f.name in arrays  # a dense matrix from an older blob
                        else SparseRows.from_arrays(get, f.name)
                    )
                elif f.name in _SCALARS:
                    scalar = np.asarray(get(f.name)).item()
                    values[f.name] = bool(scalar) if f.name == "class_agnostic" else scalar
                else:
                    values[f.name] = np.asarray(get(f.name))
        except KeyError as exc:
            raise EvaluationInputError(f"match table is missing array {exc}") from exc
        return cls(**values)  # type: ignore[arg-type]
