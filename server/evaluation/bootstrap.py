"""Bootstrap over items: resampled weights, every report metric per resample, intervals.

Items are the unit a dataset is collected in, so a resample draws n of the n selected items
with replacement; an item drawn k times counts k times (weight k). Every metric is a function
of per-item statistics built once (:class:`RunStatistics`): AP through
:mod:`sliceboard.evaluation.weighted_ap`, counts as weighted sums ``weights @ counts``. The
same weights serve two runs of one dataset (a paired bootstrap: both runs see the same
resampled items), so a delta's samples are the difference of the two runs' samples.

Intervals are percentile intervals; a delta's p-value is the two-sided bootstrap sign test
``min(1, 2 min(#{d <= 0} + 1, #{d >= 0} + 1) / (B + 1))``. Undefined values (a class without
ground truth in a resample) are NaN and left out.

Shapes: D items, K classes, B resamples.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from sliceboard.evaluation.match_table import FALSE_POSITIVE, TRUE_POSITIVE, MatchTable
from sliceboard.evaluation.threshold_metrics import counts as derived_counts
from sliceboard.evaluation.types import BoolArray, FloatArray, IntArray
from sliceboard.evaluation.weighted_ap import (
    ApStatistics,
    ItemClassCounts,
    restrict,
    table_ap_statistics,
    weighted_ap,
)

METRICS = ("ap", "ap50", "ap75", "precision", "recall", "f1")
_NORMAL = NormalDist()


def resample_weights(n_items: int, selected: IntArray, resamples: int, seed: int) -> FloatArray:
    """float64 (B, D): item multiplicities of ``resamples`` draws of ``len(selected)`` items
    with replacement from ``selected``; the same seed gives the same draws."""
    rng = np.random.default_rng(seed)
    m = int(selected.shape[0])
    weights = np.zeros((resamples, n_items))
    if m == 0 or resamples == 0:
        return weights
    draws = rng.integers(0, m, size=(resamples, m))
    flat = (np.arange(resamples)[:, None] * m + draws).ravel()
    counts = np.bincount(flat, minlength=resamples * m).reshape(resamples, m)
    weights[:, selected] = counts
    return weights


@dataclass(frozen=True)
class RunStatistics:
    """Per-item statistics of one evaluation at one (IoU, confidence) threshold.

    Attributes:
        ap_groups: (grid threshold indices, AP statistics) from ``table_ap_statistics``.
        n_grid: COCO grid thresholds; ``t50``/``t75``: their indices (-1 when absent).
        class_label: int64 (K,) label of each AP class column (-1: all labels pooled).
        tp, fp, npig: per (item, label) at the chosen thresholds.
    """

    ap_groups: list[tuple[IntArray, ApStatistics]]
    n_grid: int
    t50: int
    t75: int
    class_label: IntArray
    tp: ItemClassCounts
    fp: ItemClassCounts
    npig: ItemClassCounts


def run_statistics(
    table: MatchTable, iou_threshold: float, confidence_threshold: float
) -> RunStatistics:
    """Builds :class:`RunStatistics` (raises EvaluationInputError for an unknown threshold)."""
    row = table.row_index(iou_threshold, 0)
    n_labels = table.n_labels
    state = table.dt_state[row]
    cls = table.dt_class_row(row)
    above = table.dt_score >= confidence_threshold
    tp_rows = np.flatnonzero((state == TRUE_POSITIVE) & above)
    fp_rows = np.flatnonzero((state == FALSE_POSITIVE) & above)
    counted = ~(table.gt_iscrowd | table.gt_ignore)
    counted &= (table.gt_area >= table.area_low[0]) & (table.gt_area <= table.area_high[0])
    gt_rows = np.flatnonzero(counted)

    def per_item(item: IntArray, label: IntArray) -> ItemClassCounts:
        return ItemClassCounts.of(item, label, table.n_items, n_labels)

    grid = table.row_threshold[: table.n_grid]
    t50, t75 = np.flatnonzero(grid == 0.5), np.flatnonzero(grid == 0.75)
    pooled = table.class_agnostic
    return RunStatistics(
        ap_groups=table_ap_statistics(table),
        n_grid=table.n_grid,
        t50=int(t50[0]) if t50.shape[0] else -1,
        t75=int(t75[0]) if t75.shape[0] else -1,
        class_label=np.array([-1]) if pooled else np.arange(n_labels, dtype=np.int64),
        tp=per_item(table.dt_item[tp_rows], cls[tp_rows]),
        fp=per_item(table.dt_item[fp_rows], cls[fp_rows]),
        npig=per_item(table.gt_item[gt_rows], table.gt_label[gt_rows]),
    )


def restrict_statistics(stats: RunStatistics, keep_item: BoolArray) -> RunStatistics:
    """``stats`` of the items in ``keep_item`` (D,) alone (see ``weighted_ap.restrict``)."""
    return RunStatistics(
        ap_groups=[(t, restrict(a, keep_item)) for t, a in stats.ap_groups],
        n_grid=stats.n_grid,
        t50=stats.t50,
        t75=stats.t75,
        class_label=stats.class_label,
        tp=stats.tp.kept(keep_item),
        fp=stats.fp.kept(keep_item),
        npig=stats.npig.kept(keep_item),
    )


@dataclass(frozen=True)
class MetricSamples:
    """Each metric under each row of weights: ``overall[name]`` (B,), ``per_label[name]``
    (B, L) over all labels; NaN where undefined. ``per_label`` AP is NaN when labels are
    pooled (pycocotools' useCats=0 has no per-label AP)."""

    overall: dict[str, FloatArray]
    per_label: dict[str, FloatArray]


def metric_samples(
    stats: RunStatistics, weights: FloatArray, labels: IntArray | None = None
) -> MetricSamples:
    """Every report metric under each row of ``weights`` (B, D).

    Args:
        stats: the run's statistics.
        weights: float64 (B, D) item multiplicities (rows of ones: the metrics themselves).
        labels: label indices the overall numbers cover (all when None).
    """
    n_b = weights.shape[0]
    n_labels = stats.tp.n_classes
    chosen = np.arange(n_labels) if labels is None else np.asarray(labels, dtype=np.int64)
    per_threshold = _per_threshold_ap(stats, weights)
    class_ap = _class_ap(per_threshold)

    def at(t: int) -> FloatArray:
        if t < 0:
            return np.full((n_b, per_threshold.shape[2]), np.nan)
        values = per_threshold[:, t, :]
        return np.where(values > -1, values, np.nan)

    by_class = {"ap": class_ap, "ap50": at(stats.t50), "ap75": at(stats.t75)}
    pooled = stats.class_label.shape[0] == 1 and stats.class_label[0] == -1
    class_columns = np.array([0]) if pooled else chosen
    overall: dict[str, FloatArray] = {
        name: _nan_mean(values[:, class_columns]) for name, values in by_class.items()
    }
    per_label: dict[str, FloatArray] = {
        name: np.full((n_b, n_labels), np.nan) if pooled else values
        for name, values in by_class.items()
    }
    by_item = np.ascontiguousarray(weights.T)
    tp, fp, npig = (c.weighted(by_item).T for c in (stats.tp, stats.fp, stats.npig))
    fn = npig - tp
    for name, value in _ratios(tp, fp, fn).items():
        per_label[name] = value
    totals = _ratios(
        tp[:, chosen].sum(axis=1), fp[:, chosen].sum(axis=1), fn[:, chosen].sum(axis=1)
    )
    overall.update(totals)
    return MetricSamples(overall=overall, per_label=per_label)


def overall_ap_samples(
    stats: RunStatistics, weights: FloatArray, labels: IntArray | None = None
) -> FloatArray:
    """(B,) ``metric_samples(stats, weights, labels).overall["ap"]`` alone (no counts)."""
    class_ap = _class_ap(_per_threshold_ap(stats, weights))
    pooled = stats.class_label.shape[0] == 1 and stats.class_label[0] == -1
    if pooled:
        columns = np.array([0])
    elif labels is None:
        columns = np.arange(stats.tp.n_classes)
    else:
        columns = np.asarray(labels, dtype=np.int64)
    return _nan_mean(class_ap[:, columns])


def _per_threshold_ap(stats: RunStatistics, weights: FloatArray) -> FloatArray:
    """(B, T, K) per-class AP at each grid threshold, -1 where undefined."""
    per_threshold = np.empty((weights.shape[0], stats.n_grid, stats.class_label.shape[0]))
    for rows, ap_stats in stats.ap_groups:
        per_threshold[:, rows, :] = weighted_ap(ap_stats, weights)
    return per_threshold


def _class_ap(per_threshold: FloatArray) -> FloatArray:
    """(B, K) AP@[.5:.95] per class, NaN where undefined."""
    defined = per_threshold > -1  # per class, the same at every threshold
    out: FloatArray = np.where(defined.all(axis=1), per_threshold.mean(axis=1), np.nan)
    return out


def _ratios(tp: FloatArray, fp: FloatArray, fn: FloatArray) -> dict[str, FloatArray]:
    c = derived_counts(tp, fp, fn)  # type: ignore[arg-type]
    return {
        name: np.where(value >= 0, value, np.nan)
        for name, value in (("precision", c.precision), ("recall", c.recall), ("f1", c.f1))
    }


def _nan_mean(values: FloatArray) -> FloatArray:
    defined = ~np.isnan(values)
    count = defined.sum(axis=1)
    total = np.where(defined, values, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def percentile_interval(
    samples: FloatArray, level: float, point: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """(low, high) over axis 0 of (B, ...) samples, NaN samples left out (all NaN: NaN).

    With ``point`` (the statistic on the data itself, shaped like one sample) the interval is
    the bias-corrected percentile interval (Efron's BC): the quantile levels move by
    ``2 z0``, where ``z0`` is the normal quantile of the share of samples below the point
    (ties count half). AP's 101-point envelope is biased upwards in small samples, and so are
    its bootstrap samples around it; BC takes that shift out (plain percentiles covered 93.8%
    where BC covers 94.5% in tests/evaluation/test_bootstrap_coverage.py's simulation).
    """
    alpha = (1.0 - level) / 2.0
    flat = samples.reshape(samples.shape[0], -1)
    n_cols = flat.shape[1]
    low_q = np.full(n_cols, alpha)
    high_q = np.full(n_cols, 1.0 - alpha)
    defined = ~np.isnan(flat)
    count = defined.sum(axis=0)
    if point is not None:
        p = np.asarray(point, dtype=np.float64).reshape(-1)
        below = (defined & (flat < p)).sum(axis=0) + 0.5 * (defined & (flat == p)).sum(axis=0)
        share = np.clip(below / np.maximum(count, 1), 1e-9, 1 - 1e-9)
        z0 = np.array([_NORMAL.inv_cdf(float(x)) for x in share])
        z0 = np.where(np.isnan(p), 0.0, z0)
        z_low, z_high = _NORMAL.inv_cdf(alpha), _NORMAL.inv_cdf(1.0 - alpha)
        low_q = np.array([_NORMAL.cdf(2 * z + z_low) for z in z0])
        high_q = np.array([_NORMAL.cdf(2 * z + z_high) for z in z0])
    ordered = np.sort(flat, axis=0)  # NaN last
    low = _quantile(ordered, count, low_q)
    high = _quantile(ordered, count, high_q)
    shape = samples.shape[1:]
    return low.reshape(shape), high.reshape(shape)


def _quantile(ordered: FloatArray, count: IntArray, q: FloatArray) -> FloatArray:
    """numpy's linear quantile per column of sorted columns with ``count`` defined values."""
    columns = np.arange(ordered.shape[1])
    position = q * np.maximum(count - 1, 0)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, np.maximum(count - 1, 0))
    frac = position - below
    if ordered.shape[0] == 0:
        return np.full(ordered.shape[1], np.nan)
    lo = ordered[np.minimum(below, ordered.shape[0] - 1), columns]
    hi = ordered[np.minimum(above, ordered.shape[0] - 1), columns]
    value = np.where(frac > 0, lo + (hi - lo) * frac, lo)
    out: FloatArray = np.where(count > 0, value, np.nan)
    return out


def sign_p_value(deltas: FloatArray) -> FloatArray:
    """Two-sided bootstrap p-value of "the delta is zero" over axis 0 (NaN left out)."""
    defined = ~np.isnan(deltas)
    n = defined.sum(axis=0)
    below = (defined & (deltas <= 0)).sum(axis=0)
    above = (defined & (deltas >= 0)).sum(axis=0)
    p = np.minimum(1.0, 2.0 * (np.minimum(below, above) + 1) / (n + 1))
    out: FloatArray = np.where(n > 0, p, np.nan)
    return out


def benjamini_hochberg(p: FloatArray) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (NaN left out and kept NaN)."""
    out = np.full(p.shape, np.nan)
    defined = np.flatnonzero(~np.isnan(p))
    m = defined.shape[0]
    if m == 0:
        return out
    order = defined[np.argsort(p[defined], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out[order] = np.minimum(adjusted, 1.0)
    return out


def selected_items(mask: BoolArray | None, n_items: int) -> IntArray:
    """Indices of the selected items (all when ``mask`` is None)."""
    return np.arange(n_items) if mask is None else np.flatnonzero(mask)
