"""Aggregations of custom metrics (Labelbox's ScalarMetric model) as grouped numpy reductions.

Every aggregation is a sum of a per-value statistic followed by a finishing step, so one
``np.add.reduceat`` (contiguous segments) or ``np.bincount`` (small dense keys) pass serves all
four, with no Python loop per value:

    ARITHMETIC_MEAN   t = v        result = sum(t) / n
    SUM               t = v        result = sum(t)
    GEOMETRIC_MEAN    t = log(v)   result = exp(sum(t) / n), or 0 when a value is 0
    HARMONIC_MEAN     t = 1 / v    result = n / sum(t)

The geometric mean works on logarithms, so 400 values of 1e8 (a product of 1e3200) stay finite.
Values are 2-D, float64 (N, C): C = 1 for a scalar metric, C = 4 for confusion counts
(tp, fp, tn, fn; always SUM). An empty group answers NaN.

:func:`rollup` applies Labelbox's hierarchy to the values of one metric on a set of data rows:
leaves (nested features, or predictions) roll up into their feature, features into their data
row, and a level that has its own uploaded value keeps it instead of the roll-up.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Entry levels of the hierarchy, in the order entries of one (item, feature) are sorted.
ROW, FEATURE, LEAF = 0, 1, 2


class Aggregation(enum.Enum):
    ARITHMETIC_MEAN = "ARITHMETIC_MEAN"
    GEOMETRIC_MEAN = "GEOMETRIC_MEAN"
    HARMONIC_MEAN = "HARMONIC_MEAN"
    SUM = "SUM"


def _as_2d(values: object) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    return array.reshape(-1, 1) if array.ndim == 1 else array


def _transform(
    values: FloatArray, aggregation: Aggregation
) -> tuple[FloatArray, FloatArray | None]:
    """The per-value statistic ``t`` and, for the geometric mean, a zero indicator (N,)."""
    if aggregation is Aggregation.GEOMETRIC_MEAN:
        positive = values > 0
        logs = np.log(np.where(positive, values, 1.0))
        zeros = np.asarray((~positive).any(axis=1), dtype=np.float64)
        return np.asarray(logs, dtype=np.float64), zeros
    if aggregation is Aggregation.HARMONIC_MEAN:
        with np.errstate(divide="ignore"):
            return np.asarray(1.0 / values, dtype=np.float64), None
    return values, None


def _finish(
    sums: FloatArray, zeros: FloatArray | None, counts: FloatArray, aggregation: Aggregation
) -> FloatArray:
    """Per group (G, C) results from summed statistics; NaN where a group is empty."""
    n = counts.reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if aggregation is Aggregation.SUM:
            out = sums.copy()
        elif aggregation is Aggregation.ARITHMETIC_MEAN:
            out = sums / n
        elif aggregation is Aggregation.HARMONIC_MEAN:
            # A zero value makes sum(1/v) infinite: the harmonic mean is then 0.
            out = n / sums
        else:
            out = np.exp(sums / n)
            assert zeros is not None
            out = np.where(zeros.reshape(-1, 1) > 0, 0.0, out)
    out[np.broadcast_to(n == 0, out.shape)] = np.nan
    return np.asarray(out, dtype=np.float64)


def segment_reduce(
    values: object, starts: IntArray, aggregation: Aggregation, weights: BoolArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Reduces contiguous segments.

    Args:
        values: float64 (N,) or (N, C), sorted so every group is one run.
        starts: int64 (G,) the first row of each group, increasing, starts[0] == 0.
        aggregation: how to reduce.
        weights: optional bool (N,); rows where it is False do not take part.

    Returns:
        (float64 (G, C) results, NaN for empty groups; float64 (G,) counts).
    """
    v = _as_2d(values)
    g = int(starts.shape[0])
    if g == 0:
        return np.empty((0, v.shape[1])), np.empty(0)
    take = np.ones(v.shape[0], dtype=np.float64) if weights is None else weights.astype(np.float64)
    t, zeros = _transform(v, aggregation)
    t = t * take.reshape(-1, 1) if weights is not None else t
    if weights is not None:
        t = np.where(np.isnan(t), 0.0, t)
    sums = np.add.reduceat(t, starts, axis=0)
    counts = np.add.reduceat(take, starts)
    zero_sums = np.add.reduceat(zeros * take, starts) if zeros is not None else None
    return _finish(sums, zero_sums, counts, aggregation), counts


def keyed_reduce(
    values: object, keys: IntArray, n_keys: int, aggregation: Aggregation
) -> tuple[FloatArray, FloatArray]:
    """Reduces rows grouped by a small dense key, in any order (``np.bincount``).

    Args:
        values: float64 (N,) or (N, C).
        keys: int64 (N,) in 0..n_keys-1.
        n_keys: the number of groups K.
        aggregation: how to reduce.

    Returns:
        (float64 (K, C) results, NaN for keys without rows; float64 (K,) counts).
    """
    v = _as_2d(values)
    t, zeros = _transform(v, aggregation)
    sums = np.zeros((n_keys, v.shape[1]), dtype=np.float64)
    for c in range(v.shape[1]):
        sums[:, c] = np.bincount(keys, weights=t[:, c], minlength=n_keys)
    counts = np.bincount(keys, minlength=n_keys).astype(np.float64)
    zero_sums = (
        np.bincount(keys, weights=zeros, minlength=n_keys).astype(np.float64)
        if zeros is not None
        else None
    )
    return _finish(sums, zero_sums, counts, aggregation), counts


def aggregate(values: object, aggregation: Aggregation) -> float | None:
    """One aggregate of a flat array of values; None for no values."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.shape[0] == 0:
        return None
    out, _ = keyed_reduce(v, np.zeros(v.shape[0], dtype=np.int64), 1, aggregation)
    return float(out[0, 0])


def run_starts(*keys: NDArray[np.integer]) -> IntArray:
    """First row of every run of equal key tuples in sorted arrays: int64 (G,)."""
    n = int(keys[0].shape[0]) if keys else 0
    if n == 0:
        return np.empty(0, dtype=np.int64)
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for key in keys:
        new[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(new).astype(np.int64)


@dataclass(frozen=True)
class Rollup:
    """The values of one metric at each level, on the selected data rows.

    Attributes:
        row_item: int64 (R,) data rows with a value, increasing.
        row_value: float64 (R, C) each row's value (its own, else its features' aggregate).
        feature_item: int64 (F,) data row of each (row, feature) value.
        feature_code: int64 (F,) feature of each value.
        feature_value: float64 (F, C) its own value, else its leaves' aggregate.
    """

    row_item: IntArray
    row_value: FloatArray
    feature_item: IntArray
    feature_code: IntArray
    feature_value: FloatArray


def rollup(
    item: IntArray, feature: IntArray, level: IntArray, values: object, aggregation: Aggregation
) -> Rollup:
    """Rolls entries of one metric up to features and data rows.

    Args:
        item: int64 (N,) data row of each entry.
        feature: int64 (N,) feature code (any value for ROW entries).
        level: int64 (N,) ROW, FEATURE or LEAF; at most one ROW entry per item and one
            FEATURE entry per (item, feature).
        values: float64 (N,) or (N, C).
        aggregation: the metric's aggregation, used at every step.

    Entries must be sorted by (item, feature, level) - ROW entries anywhere in their item -
    which the column cache guarantees once, at load time.
    """
    v = _as_2d(values)
    own_row = level == ROW
    below = ~own_row
    f_item, f_code, f_level, f_values = item[below], feature[below], level[below], v[below]
    starts = run_starts(f_item, f_code)
    derived, _ = segment_reduce(f_values, starts, aggregation, weights=f_level == LEAF)
    has_own = f_level[starts] == FEATURE if starts.shape[0] else np.zeros(0, dtype=bool)
    feature_value = np.where(has_own.reshape(-1, 1), f_values[starts], derived)
    feature_item, feature_code = f_item[starts], f_code[starts]

    row_starts = run_starts(feature_item)
    row_derived, _ = segment_reduce(feature_value, row_starts, aggregation)
    derived_items = feature_item[row_starts]
    own_items = item[own_row]
    row_item = np.union1d(own_items, derived_items).astype(np.int64)
    row_value = np.empty((row_item.shape[0], v.shape[1]), dtype=np.float64)
    row_value[np.searchsorted(row_item, derived_items)] = row_derived
    row_value[np.searchsorted(row_item, own_items)] = v[own_row]
    return Rollup(row_item, row_value, feature_item, feature_code, feature_value)


def confusion_scores(counts: FloatArray) -> tuple[float | None, float | None, float | None]:
    """Precision, recall and F1 of summed (tp, fp, tn, fn); None where a ratio is 0/0.

    F1 is 2tp / (2tp + fp + fn): the harmonic mean of precision and recall where both exist,
    and 0 when nothing was found but something was predicted or missed.
    """
    tp, fp, _tn, fn = (float(c) for c in np.asarray(counts, dtype=np.float64).reshape(4))

    def ratio(num: float, den: float) -> float | None:
        return num / den if den > 0 else None

    return ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(2 * tp, 2 * tp + fp + fn)
