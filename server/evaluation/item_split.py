"""Evaluating two disjoint sets of items separately and joining their match tables.

Matching never looks across items, so the items below a cut and those from it
can be evaluated apart (e.g. in two processes) and their tables joined into the
table :func:`~sliceboard.evaluation.engine.evaluate` returns for all of them. The one
ordering that spans items, ``dt_metric_order`` (label, -score, item, input
order), is a merge of the two parts' orders: every item of the first part comes
before every item of the second, so on equal (label, score) the first part's
predictions go first. Within a row of the sparse fields the stored entry order
may differ from a one-part evaluation (it is unspecified; values are equal).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.geometry.kernel import Similarity
from sliceboard.evaluation.match_table import MatchTable
from sliceboard.evaluation.sparse_rows import SparseRows
from sliceboard.evaluation.types import (
    BoolArray,
    FloatArray,
    GroundTruth,
    IntArray,
    Predictions,
)


@dataclass(frozen=True)
class ItemPart:
    """The predictions and ground truths of some items, as rows of the full inputs."""

    dt_rows: IntArray
    gt_rows: IntArray

    @property
    def dt_span(self) -> slice | IntArray:
        """``dt_rows`` as a slice when they are consecutive (inputs sorted by item): writing
        the columns of a (R, P) array through a slice is several times faster."""
        return _span(self.dt_rows)

    def inputs(
        self, gt: GroundTruth, dt: Predictions, similarity: Similarity
    ) -> tuple[GroundTruth, Predictions, Similarity]:
        """This part's inputs; its kernel maps part rows back to rows of ``similarity``'s batch."""
        g, d = _span(self.gt_rows), _span(self.dt_rows)  # views when consecutive
        part_gt = GroundTruth(gt.item[g], gt.label[g], gt.area[g], gt.iscrowd[g], gt.ignore[g])
        part_dt = Predictions(dt.item[d], dt.label[d], dt.score[d], dt.area[d])
        dt_rows, gt_rows = self.dt_rows, self.gt_rows

        def part_similarity(
            dt_index: IntArray, gt_index: IntArray, gt_crowd: BoolArray
        ) -> FloatArray:
            return similarity(_rows(dt_rows, d, dt_index), _rows(gt_rows, g, gt_index), gt_crowd)

        return part_gt, part_dt, part_similarity


def split_items(gt: GroundTruth, dt: Predictions, first_share: float) -> tuple[ItemPart, ItemPart]:
    """Items below a cut and from it, the cut leaving about ``first_share`` of the predictions
    (the work of matching follows them) in the first part."""
    counts = np.bincount(dt.item) if dt.item.size else np.zeros(1, dtype=np.int64)
    below = np.cumsum(counts)
    cut = int(np.searchsorted(below, first_share * dt.item.shape[0], side="left")) + 1
    dt_first = dt.item < cut
    gt_first = gt.item < cut
    return (
        ItemPart(np.flatnonzero(dt_first), np.flatnonzero(gt_first)),
        ItemPart(np.flatnonzero(~dt_first), np.flatnonzero(~gt_first)),
    )


def join_tables(
    gt: GroundTruth,
    dt: Predictions,
    parts: tuple[ItemPart, ItemPart],
    tables: tuple[MatchTable, MatchTable],
) -> MatchTable:
    """The table of all items from the tables of the two parts of :func:`split_items`."""
    (a, b), (ta, tb) = parts, tables
    n_dt, n_gt = dt.item.shape[0], gt.item.shape[0]

    def by_dt(name: str) -> NDArray[Any]:
        first, second = getattr(ta, name), getattr(tb, name)
        out = np.empty((*first.shape[:-1], n_dt), dtype=first.dtype)
        for part, values in ((a, first), (b, second)):
            out[..., part.dt_span] = values
        return out

    gt_dt = np.empty((ta.gt_dt.shape[0], n_gt), dtype=ta.gt_dt.dtype)
    gt_dt[:, a.gt_rows] = _mapped(ta.gt_dt, a.dt_rows)
    gt_dt[:, b.gt_rows] = _mapped(tb.gt_dt, b.dt_rows)
    return replace(
        ta,
        dt_item=dt.item,
        dt_label=dt.label,
        dt_score=dt.score,
        dt_rank=by_dt("dt_rank"),
        dt_metric_order=_merged_order(ta, tb, a, b),
        dt_state=by_dt("dt_state"),
        dt_gt=_joined_sparse(ta.dt_gt, tb.dt_gt, parts, n_dt, gt_values=True),
        dt_iou=_joined_sparse(ta.dt_iou, tb.dt_iou, parts, n_dt, gt_values=False),
        dt_confused_gt=_joined_sparse(
            ta.dt_confused_gt, tb.dt_confused_gt, parts, n_dt, gt_values=True
        ),
        dt_class=by_dt("dt_class"),
        gt_item=gt.item,
        gt_label=gt.label,
        gt_area=gt.area,
        gt_iscrowd=gt.iscrowd,
        gt_ignore=gt.ignore,
        gt_dt=gt_dt,
    )


def _mapped(values: NDArray[np.integer], rows: IntArray) -> NDArray[np.integer]:
    """Part row indices in ``values`` as full rows; -1 stays -1."""
    if rows.shape[0] == 0:
        return values
    out: NDArray[np.integer] = np.take(rows, np.maximum(values, 0)).astype(values.dtype)
    np.copyto(out, values, where=values < 0)
    return out


def _merged_order(ta: MatchTable, tb: MatchTable, a: ItemPart, b: ItemPart) -> IntArray:
    """The parts' ``dt_metric_order``s (full rows) merged by (label, -score), stably with
    the first part winning ties; labels and scores are read from the parts' own arrays."""
    first = _rows(a.dt_rows, a.dt_span, ta.dt_metric_order)
    second = _rows(b.dt_rows, b.dt_span, tb.dt_metric_order)
    if first.shape[0] == 0 or second.shape[0] == 0:
        return np.concatenate([first, second]).astype(np.int64)
    bounds_a, bounds_b = _label_bounds(ta), _label_bounds(tb)
    score_a, score_b = ta.dt_score[ta.dt_metric_order], tb.dt_score[tb.dt_metric_order]
    np.negative(score_a, out=score_a)  # ascending within a label, as the order sorts -score
    np.negative(score_b, out=score_b)
    before = np.empty(second.shape[0], dtype=np.int64)  # first's elements ahead of each
    # One searchsorted per label present in the second part (scores sort within a label).
    for k in np.flatnonzero(np.diff(bounds_b)).tolist():
        lo_a, hi_a, lo_b, hi_b = bounds_a[k], bounds_a[k + 1], bounds_b[k], bounds_b[k + 1]
        before[lo_b:hi_b] = lo_a + np.searchsorted(score_a[lo_a:hi_a], score_b[lo_b:hi_b], "right")
    out = np.empty(first.shape[0] + second.shape[0], dtype=np.int64)
    at_second = before + np.arange(second.shape[0])
    out[at_second] = second
    in_first = np.ones(out.shape[0], dtype=bool)
    in_first[at_second] = False
    out[in_first] = first
    return out


def _joined_sparse(
    first: SparseRows,
    second: SparseRows,
    parts: tuple[ItemPart, ItemPart],
    n_dt: int,
    *,
    gt_values: bool,
) -> SparseRows:
    """Row by row, the first part's entries then the second's, in full-input rows."""
    pieces_col: list[IntArray] = []
    pieces_value: list[NDArray[np.generic]] = []
    for table, part in zip((first, second), parts, strict=True):
        pieces_col.append(np.take(part.dt_rows, table.col))
        value = table.value
        pieces_value.append(
            np.take(part.gt_rows, value).astype(value.dtype) if gt_values else value
        )
    n_rows = first.shape[0]
    cols: list[IntArray] = []
    values: list[NDArray[np.generic]] = []
    for r in range(n_rows):
        for table, col, value in zip((first, second), pieces_col, pieces_value, strict=True):
            lo, hi = int(table.row_start[r]), int(table.row_start[r + 1])
            cols.append(col[lo:hi])
            values.append(value[lo:hi])
    row_start = first.row_start + second.row_start
    return SparseRows(
        shape=(n_rows, n_dt),
        fill=first.fill,
        row_start=row_start.astype(np.int64),
        col=np.concatenate(cols).astype(np.int64) if cols else pieces_col[0],
        value=np.concatenate(values) if values else pieces_value[0],
    )


def _span(rows: IntArray) -> slice | IntArray:
    """Ascending ``rows`` as a slice when they are consecutive, else themselves."""
    if rows.shape[0] == 0:
        return slice(0, 0)
    if int(rows[-1]) - int(rows[0]) + 1 == rows.shape[0]:
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _rows(rows: IntArray, span: slice | IntArray, index: IntArray) -> IntArray:
    """``rows[index]``: an offset when ``span`` is a slice."""
    if isinstance(span, slice):
        shifted: IntArray = np.add(index, span.start, dtype=np.int64)
        return shifted
    return np.take(rows, index)


def _label_bounds(table: MatchTable) -> IntArray:
    """Where each label's run starts in ``dt_metric_order`` (sorted by label): (K+1,).

    The order holds the predictions within maxDets, so their labels are counted without
    gathering them in that order (checked by the total).
    """
    order = table.dt_metric_order
    within = table.dt_rank < int(table.max_detections.max(initial=0))
    counts = np.bincount(table.dt_label[within], minlength=table.n_labels)
    if int(counts.sum()) != order.shape[0]:
        counts = np.bincount(table.dt_label[order], minlength=table.n_labels)
    bounds = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=bounds[1:])
    return bounds
