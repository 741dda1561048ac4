"""COCO's accumulate + summarize over any subset of items, from the match table.

For each grid row (area range a, IoU threshold t), maxDets m and class k, the
selected predictions are sorted by (class, -score, item, label, input order) -
order pycocotools' mergesort produces - cumulative TP/FP give precision and
recall, and precision is read at the 101 recall points after taking the
monotone envelope. Everything is vectorised over rows and classes: a block of
rows becomes 64-bit words of "counted" bits, whose running popcount gives each
true positive its TP/FP counts, and the envelope is a running maximum over
recall points across all (row, class) segments. The floating-point operations
are pycocotools' own (tp / npig, tp / (tp + fp + eps), max), so results agree
to ~1e-16.

A slice costs what its rows cost: the table's lazy indexes (``item_rows``,
``metric_positions``, ``metric_state``) give its predictions in accumulate
order without masking or sorting the whole table.

Output shapes: precision (T, 101, K, A, M), recall (T, K, A, M); -1 marks cells
without ground truth (or, with ``EmptyClasses.INCLUDE``, 0 when the class has
predictions there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.coco_curves import (
    N_RECALL,
    StateBlock,
    curves,
    final_recall,
    padded_width,
)
from sliceboard.evaluation.match_table import IGNORED, MatchTable
from sliceboard.evaluation.types import (
    BoolArray,
    EmptyClasses,
    EvaluationInputError,
    FloatArray,
    IntArray,
)

#: Entries (rows x predictions) handled per vectorised block.
_BLOCK = 1 << 22
#: Largest slice (rows x predictions) read at once from ``MatchTable.metric_state``.
_TRANSPOSED_LIMIT = 1 << 26

Kind = Literal["bbox", "segm", "keypoints"]

DETECTION_STAT_NAMES = (
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)  # fmt: skip
KEYPOINT_STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


@dataclass(frozen=True)
class CocoSummary:
    """COCO metrics of one subset.

    Attributes:
        stats: float64 (12,) for bbox/segm, (10,) for keypoints, pycocotools' order.
        stat_names: names of ``stats``.
        precision: float64 (T, 101, K, A, M).
        recall: float64 (T, K, A, M).
        labels: int64 (K,) label index of each class column (-1: all pooled).
        ap, ap50, ap75: float64 (K,) per-class AP on area "all" at the largest maxDets.
        ar: float64 (K,) per-class AR, same setting. -1 where undefined.
        iou_thresholds: float64 (T,); area_names (A,); max_detections (M,).
    """

    stats: FloatArray
    stat_names: tuple[str, ...]
    precision: FloatArray
    recall: FloatArray
    labels: IntArray
    ap: FloatArray
    ap50: FloatArray
    ap75: FloatArray
    ar: FloatArray
    iou_thresholds: FloatArray
    area_names: tuple[str, ...]
    max_detections: IntArray


def _mean_defined(values: FloatArray, axis: tuple[int, ...] | None = None) -> FloatArray:
    defined = values > -1
    count = defined.sum(axis=axis)
    total = np.where(defined, values, 0.0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), -1.0)


def accumulate(
    table: MatchTable,
    item_mask: BoolArray | None = None,
    *,
    pool_classes: bool = False,
    all_precision: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """pycocotools' ``accumulate`` over the items selected by ``item_mask``.

    Args:
        table: the match table.
        item_mask: bool (n_items,) items to include (all when None).
        pool_classes: one class for all labels (pycocotools ``useCats=0``).
        all_precision: False computes precision at the largest maxDets only, and its M axis
            then holds that one (COCO's summary reads AP there alone; AR at smaller limits
            needs no curve): half the work of a slice's report.

    Returns:
        (precision float64 (T, 101, K, A, M), recall float64 (T, K, A, M)), views of arrays
        laid out (M, A, T, K, R) so that each block's curves are written where they lie.
    """
    dt_rows, gt_rows = table.item_rows(item_mask)
    n_grid = table.n_grid
    n_areas = table.area_names.shape[0]
    max_dets = table.max_detections
    n_classes = 1 if pool_classes else table.n_labels
    n_max = max_dets.shape[0]
    # Grid rows are numbered area-major (row = area * T + threshold), so a block of rows is a
    # contiguous run of (row, class) segments here.
    grid_rows = np.arange(n_areas * n_grid)
    n_curves = n_max if all_precision else 1  # precision's M axis; the largest maxDets last
    precision_rows = np.empty((n_curves, grid_rows.shape[0] * n_classes, N_RECALL))
    recall_rows = np.empty((n_max, grid_rows.shape[0] * n_classes))
    include_empty = table.empty_classes == EmptyClasses.INCLUDE.value

    npig_all = _ground_truth_counts(table, gt_rows, n_classes, pool_classes)[
        table.row_area[grid_rows]
    ]

    varying = table.dt_class.shape[0] > 0 and not pool_classes
    pos = np.zeros(0, dtype=np.int64)
    base_rank: NDArray[np.integer[Any]]
    fixed_class: NDArray[np.integer[Any]]
    if pool_classes or varying:
        # By (-score, item, label, input order); with classes varying per row,
        # a stable per-row sort on the class then gives (class, -score, ...).
        base = dt_rows[table.dt_rank[dt_rows] < int(max_dets.max())]
        base = base[_sort_key(table, base, np.zeros_like(base))]
        base_rank = table.dt_rank[base]
        fixed_class = np.zeros_like(base)
    else:  # the stored order already sorts by (label, -score, item, input order)
        pos = table.metric_positions(dt_rows)
        base_rank = table.metric_rank[pos]
        fixed_class = table.metric_label[pos]
        base = pos  # replaced by prediction rows below unless reading metric_state
    n_base = base.shape[0]
    width = padded_width(n_base)
    keep = _limits(base_rank, max_dets, width)
    # A slice (not the whole table) reads whole rows of the transposed states.
    transposed = (
        not (pool_classes or varying)
        and n_base < table.dt_item.shape[0] // 2
        and n_base * grid_rows.shape[0] <= _TRANSPOSED_LIMIT
    )
    if not (pool_classes or varying or transposed):
        base = table.dt_metric_order[pos]
    if varying:
        rows_per_block = 1
    elif transposed:
        rows_per_block = grid_rows.shape[0]
    else:
        rows_per_block = max(1, _BLOCK // max(1, n_base))
    for lo in range(0, grid_rows.shape[0], rows_per_block):
        block = grid_rows[lo : lo + rows_per_block]  # consecutive row indices
        n_block = block.shape[0]
        npig = npig_all[lo : lo + n_block].reshape(-1)
        bits: StateBlock | None = None
        if transposed:  # positions ascend: the gather streams whole rows
            state = np.full((n_block, width), IGNORED, dtype=np.int8)
            state[:, :n_base] = np.take(table.metric_state, pos, axis=0).T
            bits = StateBlock(state)
        elif not varying:
            state = np.full((n_block, width), IGNORED, dtype=np.int8)
            state[:, :n_base] = np.take(table.dt_state[block[0] : block[-1] + 1], base, axis=1)
            bits = StateBlock(state)
        segments = slice(lo * n_classes, (lo + n_block) * n_classes)
        undefined = npig == 0
        done: dict[int, int] = {}  # columns kept -> the maxDets index whose curves cover them
        for m in reversed(range(n_max)):  # the largest first: it always gets its curve
            limit = keep[m]
            n_cols = n_base if limit is None else int(np.count_nonzero(limit))
            with_curve = all_precision or m == n_max - 1
            q = precision_rows[m - n_max + n_curves, segments] if with_curve else None
            if n_cols in done:  # nested column sets of one size are the same set
                if q is not None:
                    q[...] = precision_rows[done[n_cols] - n_max + n_curves, segments]
                recall_rows[m, segments] = recall_rows[done[n_cols], segments]
                continue
            cls: NDArray[np.integer[Any]]
            if bits is None:  # classes vary by row: sort this row's columns by class
                cols = base if limit is None else base[limit[:n_base]]
                row_state, cls = _row_sorted(table, int(block[0]), cols)
                state = np.full((1, padded_width(cols.shape[0])), IGNORED, dtype=np.int8)
                state[0, : cols.shape[0]] = row_state
                row_bits, row_keep = StateBlock(state), None
            else:
                row_bits, row_keep, cls = bits, limit, fixed_class
            if q is not None:
                rec, seg_len = curves(row_bits, row_keep, cls, npig, n_classes, q)
                q[undefined] = -1.0
                done[n_cols] = m
            else:
                rec, seg_len = final_recall(row_bits, row_keep, cls, npig, n_classes)
            rec[undefined] = -1.0
            if include_empty:
                empty_with_dets = undefined & (seg_len > 0)
                if q is not None:
                    q[empty_with_dets] = 0.0
                rec[empty_with_dets] = 0.0
            recall_rows[m, segments] = rec
    shape = (n_areas, n_grid, n_classes)
    precision = precision_rows.reshape(n_curves, *shape, N_RECALL).transpose(2, 4, 3, 1, 0)
    recall = recall_rows.reshape(n_max, *shape).transpose(2, 3, 1, 0)
    return precision, recall


def _ground_truth_counts(
    table: MatchTable, gt_rows: IntArray, n_classes: int, pool_classes: bool
) -> FloatArray:
    """Non-ignored ground truths of the slice per (area range, class): float64 (A, K)."""
    counted = gt_rows[~(table.gt_iscrowd[gt_rows] | table.gt_ignore[gt_rows])]
    gt_class = np.zeros_like(counted) if pool_classes else table.gt_label[counted]
    gt_area = table.gt_area[counted]
    out = np.zeros((table.area_names.shape[0], n_classes))
    for a in range(out.shape[0]):
        inside = (gt_area >= table.area_low[a]) & (gt_area <= table.area_high[a])
        out[a] = np.bincount(gt_class[inside], minlength=n_classes)
    return out


def _limits(
    rank: NDArray[np.integer[Any]], max_dets: IntArray, width: int
) -> list[BoolArray | None]:
    """Columns (width,) within each maxDets; None where no prediction reaches the limit."""
    keep: list[BoolArray | None] = []
    for max_det in max_dets:
        if max_det > rank.max(initial=-1):
            keep.append(None)
        else:
            mask = np.zeros(width, dtype=bool)
            mask[: rank.shape[0]] = rank < max_det
            keep.append(mask)
    return keep


def _sort_key(table: MatchTable, rows: IntArray, cls: IntArray) -> IntArray:
    """Order of ``rows`` by (class, -score, item, label, input order): pycocotools' ties."""
    return np.lexsort((table.dt_label[rows], table.dt_item[rows], -table.dt_score[rows], cls))


def _row_sorted(table: MatchTable, row: int, cols: IntArray) -> tuple[NDArray[np.int8], IntArray]:
    """States (N,) and classes (N,) of one row where classes vary by row.

    ``cols`` is in (-score, item, label, input) order; a stable sort on the
    row's classes (radix for 16-bit keys) yields pycocotools' order per class.
    """
    cls = table.dt_class[row, cols].astype(np.int64)
    keys = cls.astype(np.int16) if table.n_labels < 2**15 else cls
    order = np.argsort(keys, kind="stable")
    return table.dt_state[row, cols[order]], cls[order]


def coco_summary(
    table: MatchTable,
    item_mask: BoolArray | None = None,
    kind: Kind = "bbox",
    *,
    pool_classes: bool | None = None,
    all_precision: bool = True,
) -> CocoSummary:
    """COCO's 12 (bbox/segm) or 10 (keypoints) numbers and per-class AP/AR.

    Args:
        table: the match table.
        item_mask: bool (n_items,) items of the subset (all when None).
        kind: "bbox", "segm" or "keypoints" (decides pycocotools' summary).
        pool_classes: pool all labels into one class like pycocotools'
            ``useCats=0``; defaults to ``table.class_agnostic``.
        all_precision: False computes precision only at the last maxDets, and ``precision``'s
            M axis then holds that one, when that is the only one the numbers here read (AP
            at 100 and maxDets[2] for detection, 20 for keypoints); otherwise it is ignored.

    Returns:
        :class:`CocoSummary`.
    """
    if kind not in ("bbox", "segm", "keypoints"):
        raise EvaluationInputError(f"unknown kind {kind!r}")
    pooled = table.class_agnostic if pool_classes is None else pool_classes
    max_dets = [int(m) for m in table.max_detections]
    top = max_dets[2] if len(max_dets) > 2 else max_dets[-1]
    ap_read = {20} if kind == "keypoints" else {100, top}  # the maxDets AP is read at
    last_only = not all_precision and all(
        i == len(max_dets) - 1 for i, m in enumerate(max_dets) if m in ap_read
    )
    precision, recall = accumulate(
        table, item_mask, pool_classes=pooled, all_precision=not last_only
    )
    thresholds = table.row_threshold[: table.n_grid]
    area_names = tuple(str(n) for n in table.area_names)

    def pick(ap: bool, iou: float | None, area: str, max_det: int) -> FloatArray:
        a = [i for i, name in enumerate(area_names) if name == area]
        m = [i for i, value in enumerate(max_dets) if value == max_det]
        s = precision if ap else recall
        if ap and last_only:  # the M axis holds the last maxDets alone
            m = [i - len(max_dets) + 1 for i in m]
        if iou is not None:
            s = s[np.where(iou == thresholds)[0]]
        if len(a) == 1 and len(m) == 1:  # a view, same element order as the copies below
            out: FloatArray = s[..., a[0], m[0]]
            return out
        return s[..., a, :][..., m]

    def summarize(
        ap: bool, iou: float | None = None, area: str = "all", max_det: int = 100
    ) -> float:
        s = pick(ap, iou, area, max_det)
        defined = s[s > -1]
        return float(np.mean(defined)) if defined.size else -1.0

    names: tuple[str, ...]
    if kind == "keypoints":
        names = KEYPOINT_STAT_NAMES
        stats = [
            summarize(ap, iou, area, 20)
            for ap in (True, False)
            for iou, area in (
                (None, "all"),
                (0.5, "all"),
                (0.75, "all"),
                (None, "medium"),
                (None, "large"),
            )
        ]
    else:
        names = DETECTION_STAT_NAMES
        stats = [
            summarize(True),
            summarize(True, 0.5, max_det=top),
            summarize(True, 0.75, max_det=top),
            *(summarize(True, area=a, max_det=top) for a in ("small", "medium", "large")),
            *(summarize(False, max_det=d) for d in [*max_dets, top, top][:3]),
            *(summarize(False, area=a, max_det=top) for a in ("small", "medium", "large")),
        ]
    all_index = 0
    last = -1
    per_class_p = precision[:, :, :, all_index, last]  # (T, R, K)
    per_class_r = recall[:, :, all_index, last]  # (T, K)
    t50 = np.where(thresholds == 0.5)[0]
    t75 = np.where(thresholds == 0.75)[0]
    n_classes = precision.shape[2]
    return CocoSummary(
        stats=np.array(stats, dtype=np.float64),
        stat_names=names,
        precision=precision,
        recall=recall,
        labels=np.array([-1]) if pooled else np.arange(n_classes, dtype=np.int64),
        ap=_mean_defined(per_class_p, axis=(0, 1)),
        ap50=_mean_defined(per_class_p[t50], axis=(0, 1)),
        ap75=_mean_defined(per_class_p[t75], axis=(0, 1)),
        ar=_mean_defined(per_class_r, axis=(0,)),
        iou_thresholds=np.array(thresholds, dtype=np.float64),
        area_names=area_names,
        max_detections=np.array(max_dets, dtype=np.int64),
    )
