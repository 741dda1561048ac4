"""COCO's per-class AP on a dataset whose items are drawn with multiplicity, without re-sorting.

A bootstrap resample repeats items: an item drawn k times counts k times, as if pycocotools
ran on a dataset holding k copies of its image (copies next to each other in image order).
Resampling never changes the order in which pycocotools accumulates predictions (by class,
-score, image, input order), only how many times each one occurs, so AP becomes a function of
per-item weights w (n_items,) over statistics built once:

- *points*: the predictions whose outcome can move a precision read at a recall point - true
  positives at some IoU threshold, and anything whose state differs between thresholds - in
  accumulate order, with their item. Copies of one true positive are consecutive and precision
  rises along them, so k copies act as one point of weight k.
- *gaps*: predictions that are false positives at every threshold only add to the FP count of
  the next point; they are kept as (next point, item, count) triples, summed per resample with
  one gather. False positives after a class's last point cannot change its AP and are dropped.
- tie blocks: predictions of one item, class and score that mix true and false positives are
  the one place copies interleave (copy 1's block, then copy 2's, ...), so such a block is
  expanded into ``TIE_COPIES`` copies, copy c weighing ``clip(w - c, 0, 1)``.

Then, per resample and threshold: weighted cumulative TP/FP at the points, precision
``tp / (tp + fp + eps)`` and recall ``tp / npig`` with pycocotools' own operations, the
precision envelope (a running maximum from the end of each class), and AP = sum over points of
envelope x (recall points first reached there) / 101. Predictions absorbed by crowd or ignored
regions add nothing, exactly as in pycocotools' cumulative sums. With every weight 1 this is
pycocotools' per-class AP; with weights k it is pycocotools on the dataset with items repeated
(tests/evaluation/test_weighted_ap.py checks both against pycocotools).

Shapes: D items, K classes, T thresholds, U points, N gap triples, B resamples.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sliceboard.evaluation.coco_curves import N_RECALL, recall_points_reached
from sliceboard.evaluation.match_table import FALSE_POSITIVE, TRUE_POSITIVE, MatchTable
from sliceboard.evaluation.types import BoolArray, EmptyClasses, FloatArray, IntArray

#: Copies a mixed tie block is expanded into; the last copy carries any weight beyond.
TIE_COPIES = 8
#: Threads that evaluate blocks of resamples at once.
THREADS = 2
#: Entries (resamples x (points + gaps)) handled per vectorised block: bounds the memory.
BLOCK = 1 << 24
#: Entries (resamples x points) per block at most: a block's per-run arrays then stay in the
#: processor's cache (small cases take many resamples per block, big ones a few).
CACHE_ENTRIES = 1 << 19
#: (class, item) cells of the dense count matrix a per-class weighted sum builds at a time.
DENSE_ENTRIES = 1 << 22
_EPS = float(np.spacing(1))


@dataclass(frozen=True)
class ItemClassCounts:
    """Counts per (item, class) as sparse triples sorted by class: item, cls int64 (M,),
    count float64 (M,). A weighted sum per class is one row gather (no dense D x K matrix)."""

    item: IntArray
    cls: IntArray
    count: FloatArray
    n_classes: int

    @classmethod
    def of(cls, item: IntArray, klass: IntArray, n_items: int, n_classes: int) -> ItemClassCounts:
        key = klass.astype(np.int64) * max(n_items, 1) + item
        unique, count = np.unique(key, return_counts=True)
        return cls(
            item=unique % max(n_items, 1),
            cls=unique // max(n_items, 1),
            count=count.astype(np.float64),
            n_classes=n_classes,
        )

    @cached_property
    def _columns(self) -> tuple[IntArray, IntArray]:
        """(items that have counts, each triple's column among them)."""
        used, column = np.unique(self.item, return_inverse=True)
        return used, column.reshape(-1)

    def weighted(self, by_item: FloatArray) -> FloatArray:
        """(K, B) sums of count x weight per class; ``by_item`` is (D, B).

        A dense (classes x items with counts) matrix times those items' weights (one product),
        built for at most ``DENSE_ENTRIES`` cells at a time; sums of whole numbers
        are exact in any order."""
        out = np.zeros((self.n_classes, by_item.shape[1]))
        if self.item.shape[0] == 0:
            return out
        used, column = self._columns
        weights = by_item[used]
        per_block = max(1, DENSE_ENTRIES // used.shape[0])
        bounds = np.searchsorted(self.cls, np.arange(0, self.n_classes + per_block, per_block))
        for k, lo in enumerate(range(0, self.n_classes, per_block)):
            a, b = int(bounds[k]), int(bounds[k + 1])
            if a == b:
                continue
            hi = min(lo + per_block, self.n_classes)
            dense = np.zeros((hi - lo, used.shape[0]))
            dense[self.cls[a:b] - lo, column[a:b]] = self.count[a:b]  # (class, item) unique
            # einsum's own loop, not BLAS: OpenBLAS threads on a shared machine cost several
            # times the CPU of this product and contend with the resample threads
            out[lo:hi] = np.einsum("ku,ub->kb", dense, weights)
        return out

    def kept(self, keep_item: BoolArray) -> ItemClassCounts:
        at = keep_item[self.item]
        return ItemClassCounts(self.item[at], self.cls[at], self.count[at], self.n_classes)


@dataclass(frozen=True)
class ApStatistics:
    """What AP under any item weights needs (module docstring); build with :func:`ap_statistics`.

    Attributes:
        n_items, n_classes: D and K.
        class_start: int64 (K+1,) each class's first point; points of class k are
            ``class_start[k]:class_start[k+1]``.
        point_item: int64 (U,) item of each point.
        point_copy: int64 (U,) -1 for a point weighing w, else its copy index in a tie block.
        point_tp, point_fp: bool (T, U) the point's outcome at each threshold.
        gap_point, gap_item: int64 (N,) false positives at every threshold: the point they
            precede and their item, sorted by point.
        gap_count: float64 (N,) how many such predictions the (point, item) pair holds.
        gt_count: counted (not crowd, not ignored) ground truths per (item, class).
        dt_count: evaluated predictions per (item, class) (for EmptyClasses.INCLUDE).
        include_empty: a class without ground truth but with predictions scores 0, not -1.
    """

    n_items: int
    n_classes: int
    class_start: IntArray
    point_item: IntArray
    point_copy: IntArray
    point_tp: BoolArray
    point_fp: BoolArray
    gap_point: IntArray
    gap_item: IntArray
    gap_count: FloatArray
    gt_count: ItemClassCounts
    dt_count: ItemClassCounts
    include_empty: bool

    @property
    def n_thresholds(self) -> int:
        return int(self.point_tp.shape[0])


def ap_statistics(
    *,
    item: IntArray,
    cls: IntArray,
    score: FloatArray,
    state: np.ndarray,
    gt_item: IntArray,
    gt_class: IntArray,
    n_items: int,
    n_classes: int,
    include_empty: bool = False,
) -> ApStatistics:
    """Statistics of predictions given in accumulate order (class, -score, item, input order).

    Args:
        item, cls, score: int64/int64/float64 (E,) the evaluated predictions (within maxDets),
            already in that order.
        state: int8 (T, E) TRUE_POSITIVE / FALSE_POSITIVE / anything else (ignored).
        gt_item, gt_class: int64 (G,) the counted ground truths.
        n_items, n_classes: D and K.
        include_empty: EmptyClasses.INCLUDE.
    """
    n_thr, n = state.shape
    tp = state == TRUE_POSITIVE
    fp = state == FALSE_POSITIVE
    # Tie blocks: runs of equal (class, score, item).
    new_block = np.ones(n, dtype=bool)
    if n > 1:
        new_block[1:] = (cls[1:] != cls[:-1]) | (score[1:] != score[:-1]) | (item[1:] != item[:-1])
    block = np.cumsum(new_block) - 1
    block_first = np.flatnonzero(new_block)
    mixed_block = np.zeros(block_first.shape[0], dtype=bool)
    for t in range(n_thr):
        has_tp = np.bincount(block, weights=tp[t], minlength=block_first.shape[0]) > 0
        has_fp = np.bincount(block, weights=fp[t], minlength=block_first.shape[0]) > 0
        mixed_block |= has_tp & has_fp
    mixed = mixed_block[block]
    always_fp = fp.all(axis=0) & ~mixed
    never_counted = ~(tp | fp).any(axis=0) & ~mixed
    single = ~mixed & ~always_fp & ~never_counted

    # Point rows: (position key, copy, position) sorted; a mixed block keeps its place.
    single_pos = np.flatnonzero(single)
    mixed_pos = np.flatnonzero(mixed)
    copies = np.arange(TIE_COPIES, dtype=np.int64)
    rows_pos = np.concatenate([single_pos, np.repeat(mixed_pos, TIE_COPIES)])
    rows_copy = np.concatenate(
        [np.full(single_pos.shape[0], -1, dtype=np.int64), np.tile(copies, mixed_pos.shape[0])]
    )
    rows_key = np.concatenate([single_pos, np.repeat(block_first[block[mixed_pos]], TIE_COPIES)])
    order = np.lexsort((rows_pos, rows_copy, rows_key))
    point_pos, point_copy, point_key = rows_pos[order], rows_copy[order], rows_key[order]
    point_cls = cls[point_pos]
    class_start = np.searchsorted(point_cls, np.arange(n_classes + 1)).astype(np.int64)

    # Always-FP predictions feed the first point after them, in their class.
    gap_pos = np.flatnonzero(always_fp)
    nxt = np.searchsorted(point_key, gap_pos, side="right")
    in_class = nxt < class_start[cls[gap_pos] + 1]
    gap_pos, nxt = gap_pos[in_class], nxt[in_class]
    gap_point, gap_item, gap_count = _grouped_pairs(nxt, item[gap_pos], n_items)

    return ApStatistics(
        n_items=int(n_items),
        n_classes=int(n_classes),
        class_start=class_start,
        point_item=item[point_pos].astype(np.int64),
        point_copy=point_copy,
        point_tp=tp[:, point_pos],
        point_fp=fp[:, point_pos],
        gap_point=gap_point,
        gap_item=gap_item,
        gap_count=gap_count,
        gt_count=ItemClassCounts.of(gt_item, gt_class, n_items, n_classes),
        dt_count=ItemClassCounts.of(item, cls, n_items, n_classes),
        include_empty=include_empty,
    )


def _grouped_pairs(
    point: IntArray, item: IntArray, n_items: int
) -> tuple[IntArray, IntArray, FloatArray]:
    key = point.astype(np.int64) * max(n_items, 1) + item
    unique, count = np.unique(key, return_counts=True)
    return unique // max(n_items, 1), unique % max(n_items, 1), count.astype(np.float64)


def table_ap_statistics(
    table: MatchTable, thresholds: IntArray | None = None, *, pool_classes: bool | None = None
) -> list[tuple[IntArray, ApStatistics]]:
    """Statistics of a whole match table on area "all" at its largest maxDets.

    Args:
        table: the evaluation's match table.
        thresholds: indices into the COCO grid (default: all of it).
        pool_classes: one class for every label (default ``table.class_agnostic``).

    Returns:
        (grid threshold indices, statistics) pairs: one pair for all thresholds, or one per
        threshold when labels may cross-match (a prediction's class then depends on it).
    """
    grid = np.arange(table.n_grid) if thresholds is None else np.asarray(thresholds)
    pooled = table.class_agnostic if pool_classes is None else pool_classes
    top = int(table.max_detections.max(initial=0))
    evaluated = np.flatnonzero(table.dt_rank < top)
    counted_gt = ~(table.gt_iscrowd | table.gt_ignore)
    counted_gt &= (table.gt_area >= table.area_low[0]) & (table.gt_area <= table.area_high[0])
    gt_rows = np.flatnonzero(counted_gt)
    n_classes = 1 if pooled else table.n_labels
    gt_class = np.zeros_like(gt_rows) if pooled else table.gt_label[gt_rows]
    include = table.empty_classes == EmptyClasses.INCLUDE.value
    varying = table.dt_class.shape[0] > 0 and not pooled
    groups = [grid[k : k + 1] for k in range(grid.shape[0])] if varying else [grid]
    out: list[tuple[IntArray, ApStatistics]] = []
    for rows in groups:
        if pooled:
            cls = np.zeros_like(evaluated)
        elif varying:
            cls = table.dt_class[int(rows[0]), evaluated].astype(np.int64)
        else:
            cls = table.dt_label[evaluated]
        order = np.lexsort(
            (
                np.arange(evaluated.shape[0]),
                table.dt_label[evaluated],
                table.dt_item[evaluated],
                -table.dt_score[evaluated],
                cls,
            )
        )
        chosen = evaluated[order]
        out.append(
            (
                rows,
                ap_statistics(
                    item=table.dt_item[chosen],
                    cls=cls[order],
                    score=table.dt_score[chosen],
                    state=table.dt_state[rows][:, chosen],
                    gt_item=table.gt_item[gt_rows],
                    gt_class=gt_class,
                    n_items=table.n_items,
                    n_classes=n_classes,
                    include_empty=include,
                ),
            )
        )
    return out


@dataclass(frozen=True)
class _Plan:
    """One threshold's reading of the points: true positives merged into runs (consecutive
    TPs of a class with no false positive between them share their envelope value, so a run
    is one point weighing the sum of its weights), read at each run's last true positive.

    A run's cumulative TP weight comes from a cumulative sum over the smaller of the TP points
    and the other points (TP = all points - others); its counted weight (TP + FP) from the
    block's cumulative sum of every point and gap, less this threshold's ignored points."""

    run_last: IntArray  # (R,) point position of each run's last TP, ascending
    run_base: IntArray  # (R,) first point position of each run's class
    class_runs: IntArray  # (C,) first run of each class that has runs
    classes: IntArray  # (C,) those classes
    run_seg: IntArray  # (R,) index into ``classes`` of each run
    tp_by_complement: bool  # cumulative TP weight as all points less the non-TP points
    summed: IntArray  # the points summed for TP weight: TP points, or non-TP points
    summed_at: tuple[IntArray, IntArray]  # (R,) rows of their cumulative sum: run, class base
    ignored: IntArray  # points neither TP nor FP at this threshold (crowd or ignored matches)
    ignored_at: tuple[IntArray, IntArray]


def _plans(stats: ApStatistics) -> list[_Plan]:
    n_points = stats.point_item.shape[0]
    point_class = np.repeat(np.arange(stats.n_classes), np.diff(stats.class_start))
    has_gap = np.zeros(n_points, dtype=bool)
    has_gap[stats.gap_point] = True
    plans = []
    for t in range(stats.n_thresholds):
        is_tp = stats.point_tp[t]
        tp_pos = np.flatnonzero(is_tp)
        marks = np.cumsum(stats.point_fp[t] | has_gap)
        new_run = np.ones(tp_pos.shape[0], dtype=bool)
        if tp_pos.shape[0] > 1:
            a, b = tp_pos[:-1], tp_pos[1:]
            new_run[1:] = (point_class[a] != point_class[b]) | (marks[b] != marks[a])
        run_start = np.flatnonzero(new_run)
        run_last = (
            tp_pos[np.r_[run_start[1:], tp_pos.shape[0]] - 1] if run_start.shape[0] else tp_pos[:0]
        )
        run_class = point_class[run_last]
        first_of_class = np.flatnonzero(np.r_[True, run_class[1:] != run_class[:-1]])
        if run_class.shape[0] == 0:
            first_of_class = np.zeros(0, dtype=np.int64)
        classes = run_class[first_of_class]
        run_seg = np.repeat(
            np.arange(classes.shape[0]), np.diff(np.r_[first_of_class, run_class.shape[0]])
        )
        others = np.flatnonzero(~is_tp)
        by_complement = others.shape[0] < tp_pos.shape[0]
        summed = others if by_complement else tp_pos
        ignored = np.flatnonzero(~is_tp & ~stats.point_fp[t])
        run_base = stats.class_start[run_class]

        def rows_at(
            rows: IntArray, run_last: IntArray = run_last, run_base: IntArray = run_base
        ) -> tuple[IntArray, IntArray]:
            return (
                np.searchsorted(rows, run_last, side="right"),
                np.searchsorted(rows, run_base, side="left"),
            )

        plans.append(
            _Plan(
                run_last=run_last,
                run_base=run_base,
                class_runs=first_of_class,
                classes=classes,
                run_seg=run_seg,
                tp_by_complement=by_complement,
                summed=summed,
                summed_at=rows_at(summed),
                ignored=ignored,
                ignored_at=rows_at(ignored),
            )
        )
    return plans


def weighted_ap(stats: ApStatistics, weights: FloatArray) -> FloatArray:
    """Per-class AP at every threshold of ``stats`` for each row of item weights.

    Resamples are evaluated in blocks of at most ``BLOCK // (points + gaps)`` rows (the memory
    bound) and ``CACHE_ENTRIES // points`` rows (so that a block's per-run arrays stay in the
    processor's cache), on ``THREADS`` threads.

    Args:
        stats: from :func:`ap_statistics`.
        weights: float64 (B, D) how many times each item counts (0 drops it).

    Returns:
        float64 (B, T, K): AP, -1 where a class has no ground truth in the weighted dataset
        (0 with ``include_empty`` when it has predictions there).
    """
    weights = np.asarray(weights, dtype=np.float64)
    n_b = weights.shape[0]
    plans = _plans(stats)
    by_item = np.ascontiguousarray(weights.T)
    npig = stats.gt_count.weighted(by_item)  # (K, B)
    with_dets = stats.dt_count.weighted(by_item) > 0 if stats.include_empty else None
    out = np.empty((n_b, stats.n_thresholds, stats.n_classes))
    width = stats.point_item.shape[0] + stats.gap_item.shape[0]
    cache_rows = CACHE_ENTRIES // max(stats.point_item.shape[0], 1)
    step = max(1, min(BLOCK // max(width, 1), cache_rows, -(-n_b // THREADS)))
    starts = range(0, n_b, step)

    def block(lo: int) -> None:
        out[lo : lo + step] = _weighted_block(
            stats,
            plans,
            weights[lo : lo + step],
            npig[:, lo : lo + step],
            None if with_dets is None else with_dets[:, lo : lo + step],
        )

    if len(starts) > 1 and THREADS > 1:
        # numpy releases the GIL in every kernel here: blocks of resamples run side by side
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(block, starts))
    else:
        for lo in starts:
            block(lo)
    return out


def _weighted_block(
    stats: ApStatistics,
    plans: list[_Plan],
    weights: FloatArray,
    npig: FloatArray,
    with_dets: BoolArray | None,
) -> FloatArray:
    # Item-major (rows = items or points, columns = resamples): every gather copies whole rows.
    by_item = np.ascontiguousarray(weights.T)
    n_b = weights.shape[0]
    n_points = stats.point_item.shape[0]
    out = np.zeros((stats.n_thresholds, stats.n_classes, n_b))
    w = np.take(by_item, stats.point_item, axis=0)
    copy = stats.point_copy
    if bool((copy >= 0).any()):
        at = np.flatnonzero(copy >= 0)
        shifted = w[at] - copy[at, None]
        last = (copy[at] == TIE_COPIES - 1)[:, None]
        w[at] = np.where(last, np.maximum(shifted, 0.0), np.clip(shifted, 0.0, 1.0))
    # Cumulative weight of every point, and of every point and gap (a gap's false positives
    # come before the point they precede), through each point, within its class. Weights are
    # whole numbers in practice, so these sums and their differences are exact.
    # (Accumulations along an axis cost ~10x an elementwise pass: they run over points, never
    # over gap triples, whose weights are summed per point with one bincount per resample.)
    class_base = np.repeat(stats.class_start[:-1], np.diff(stats.class_start))
    points_in = _cumulative_in_class(w, class_base)
    gaps = np.zeros((n_b, n_points))
    if stats.gap_item.shape[0]:
        several = stats.gap_count != 1
        for r in range(n_b):
            taken = np.take(weights[r], stats.gap_item)
            if several.any():
                taken *= stats.gap_count
            gaps[r] = np.bincount(stats.gap_point, weights=taken, minlength=n_points)
    counted_in = _cumulative_in_class(w + gaps.T, class_base)
    for t, plan in enumerate(plans):
        if plan.run_last.shape[0] == 0:
            continue
        out[t, plan.classes] = _threshold_ap(plan, w, npig, points_in, counted_in)
    undefined = npig == 0
    if with_dets is not None:
        empty_value = np.where(with_dets, 0.0, -1.0)
    else:
        empty_value = np.full(npig.shape, -1.0)
    result: FloatArray = np.where(undefined[None], empty_value[None], out).transpose(2, 0, 1)
    return result


def _cumulative_in_class(w: FloatArray, class_base: IntArray) -> FloatArray:
    """(U, B) cumulative weight through each point within its class; ``class_base`` (U,) is
    the first point of each point's class."""
    cum = np.zeros((w.shape[0] + 1, w.shape[1]))
    np.cumsum(w, axis=0, out=cum[1:])
    through: FloatArray = cum[1:]
    through -= np.take(cum, class_base, axis=0)
    return through


def _subset_in_class(w: FloatArray, rows: IntArray, at: tuple[IntArray, IntArray]) -> FloatArray:
    """(R, B) in-class weight of the points ``rows`` (ascending) through each run's last TP,
    ``at`` being the rows of their cumulative sum to read (through the run, before its class)."""
    cum = np.zeros((rows.shape[0] + 1, w.shape[1]))
    np.cumsum(np.take(w, rows, axis=0), axis=0, out=cum[1:])
    through: FloatArray = np.take(cum, at[0], axis=0)
    through -= np.take(cum, at[1], axis=0)
    return through


def _threshold_ap(
    plan: _Plan,
    w: FloatArray,
    npig: FloatArray,
    points_in: FloatArray,
    counted_in: FloatArray,
) -> FloatArray:
    """(C, B) AP of the classes with true positives at one threshold (arrays point-major)."""
    n_classes = plan.classes.shape[0]
    tp = _subset_in_class(w, plan.summed, plan.summed_at)
    if plan.tp_by_complement:
        tp = np.subtract(np.take(points_in, plan.run_last, axis=0), tp, out=tp)
    # TP + FP through the run: pycocotools' tp + fp, exactly (sums of whole numbers).
    counted = np.take(counted_in, plan.run_last, axis=0)
    if plan.ignored.shape[0]:
        counted -= _subset_in_class(w, plan.ignored, plan.ignored_at)
    counted += _EPS
    pr = np.divide(tp, counted, out=counted)
    npig_run = npig[plan.classes]
    npig_run[npig_run == 0] = 1.0
    rc = np.divide(tp, np.take(npig_run, plan.run_seg, axis=0), out=tp)
    reached = recall_points_reached(rc)
    # Each class's running maximum from its end must not see the next class: lift earlier
    # classes above later ones (precision lies in [0, 1]).
    lift = (2.0 * (n_classes - 1 - plan.run_seg))[:, None]
    pr += lift
    envelope = pr[::-1]
    np.maximum.accumulate(envelope, axis=0, out=envelope)
    pr -= lift
    newly = np.diff(reached, axis=0, prepend=0)
    newly[plan.class_runs] = np.take(reached, plan.class_runs, axis=0)
    pr *= newly
    sums: FloatArray = np.add.reduceat(pr, plan.class_runs, axis=0) / N_RECALL
    return sums


def restrict(stats: ApStatistics, keep_item: BoolArray) -> ApStatistics:
    """The statistics of the items in ``keep_item`` (D,) alone: AP under weights that are zero
    outside them is unchanged, and every resample then costs the kept items' points only."""
    keep = keep_item[stats.point_item]
    kept = np.flatnonzero(keep)
    old_class = np.repeat(np.arange(stats.n_classes), np.diff(stats.class_start))
    new_class = old_class[kept]
    class_start = np.searchsorted(new_class, np.arange(stats.n_classes + 1)).astype(np.int64)
    g = np.flatnonzero(keep_item[stats.gap_item])
    target = np.searchsorted(kept, stats.gap_point[g])
    inside = target < kept.shape[0]
    inside[inside] &= new_class[target[inside]] == old_class[stats.gap_point[g[inside]]]
    g, target = g[inside], target[inside]
    key = target.astype(np.int64) * max(stats.n_items, 1) + stats.gap_item[g]
    unique, inverse = np.unique(key, return_inverse=True)
    count = np.bincount(inverse.reshape(-1), weights=stats.gap_count[g], minlength=unique.shape[0])
    return ApStatistics(
        n_items=stats.n_items,
        n_classes=stats.n_classes,
        class_start=class_start,
        point_item=stats.point_item[kept],
        point_copy=stats.point_copy[kept],
        point_tp=stats.point_tp[:, kept],
        point_fp=stats.point_fp[:, kept],
        gap_point=unique // max(stats.n_items, 1),
        gap_item=unique % max(stats.n_items, 1),
        gap_count=count.astype(np.float64),
        gt_count=stats.gt_count.kept(keep_item),
        dt_count=stats.dt_count.kept(keep_item),
        include_empty=stats.include_empty,
    )
