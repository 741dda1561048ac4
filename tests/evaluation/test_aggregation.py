"""The aggregation kernels against the standard library, including a hypothesis property test."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sliceboard.evaluation.aggregation import (
    FEATURE,
    LEAF,
    ROW,
    Aggregation,
    aggregate,
    confusion_scores,
    keyed_reduce,
    rollup,
    run_starts,
    segment_reduce,
)

A = Aggregation


def reference(values: list[float], aggregation: Aggregation) -> float:
    if aggregation is A.ARITHMETIC_MEAN:
        return float(sum(Fraction(v) for v in values) / len(values))
    if aggregation is A.SUM:
        return math.fsum(values)
    if aggregation is A.HARMONIC_MEAN:
        return 0.0 if 0 in values else statistics.harmonic_mean(values)
    return 0.0 if 0 in values else statistics.geometric_mean(values)


def test_empty_is_none_and_single_value_is_itself() -> None:
    for aggregation in A:
        assert aggregate([], aggregation) is None
        assert aggregate([3.5], aggregation) == pytest.approx(3.5, rel=1e-15)


def test_geometric_mean_survives_an_overflowing_product() -> None:
    values = [1e8] * 400 + [1e-8] * 100
    with pytest.raises(OverflowError):
        float(math.prod(Fraction(v) for v in values))
    with np.errstate(over="ignore"):
        assert math.isinf(float(np.prod(np.array(values[:400]))))  # the naive product overflows
    assert aggregate(values, A.GEOMETRIC_MEAN) == pytest.approx(
        reference(values, A.GEOMETRIC_MEAN), rel=1e-12
    )


def test_zero_makes_geometric_and_harmonic_mean_zero() -> None:
    assert aggregate([4.0, 0.0, 9.0], A.GEOMETRIC_MEAN) == 0.0
    assert aggregate([4.0, 0.0, 9.0], A.HARMONIC_MEAN) == 0.0


def test_segment_and_keyed_reduce_agree_with_groups() -> None:
    rng = np.random.default_rng(3)
    keys = np.sort(rng.integers(0, 7, 200))
    values = rng.uniform(0.1, 50, 200)
    starts = run_starts(keys)
    for aggregation in A:
        seg, seg_counts = segment_reduce(values, starts, aggregation)
        keyed, keyed_counts = keyed_reduce(values, keys, 7, aggregation)
        for g, start in enumerate(starts):
            group = values[keys == keys[start]].tolist()
            assert seg[g, 0] == pytest.approx(reference(group, aggregation), rel=1e-12)
            assert keyed[keys[start], 0] == pytest.approx(reference(group, aggregation), rel=1e-12)
            assert seg_counts[g] == keyed_counts[keys[start]] == len(group)
        missing = np.setdiff1d(np.arange(7), keys)
        assert np.isnan(keyed[missing]).all() and (keyed_counts[missing] == 0).all()


def test_segment_reduce_with_weights_skips_rows() -> None:
    values = np.array([1.0, 100.0, 3.0, 5.0])
    out, counts = segment_reduce(
        values, np.array([0, 2]), A.HARMONIC_MEAN, weights=np.array([True, False, False, False])
    )
    assert out[0, 0] == 1.0 and np.isnan(out[1, 0]) and counts.tolist() == [1.0, 0.0]


def test_confusion_columns_sum() -> None:
    counts = np.array([[1, 2, 3, 4], [10, 20, 30, 40], [5, 5, 5, 5]], dtype=np.float64)
    out, _ = keyed_reduce(counts, np.array([0, 1, 0]), 2, A.SUM)
    assert out.tolist() == [[6, 7, 8, 9], [10, 20, 30, 40]]
    assert confusion_scores(out[0]) == pytest.approx((6 / 13, 6 / 15, 12 / 28))
    assert confusion_scores(np.array([0, 0, 9, 0])) == (None, None, None)
    assert confusion_scores(np.array([0, 3, 0, 0])) == (0.0, None, 0.0)


def test_rollup_prefers_own_values() -> None:
    # item 0: own row 5, cat own 1 (its leaf 99 is ignored), dog from leaves 2 and 4;
    # item 1: cat from leaf 3; item 2: own row 7 only.
    item = np.array([0, 0, 0, 0, 0, 1, 2])
    feature = np.array([-1, 0, 0, 1, 1, 0, -1])
    level = np.array([ROW, FEATURE, LEAF, LEAF, LEAF, LEAF, ROW])
    values = np.array([5, 1, 99, 2, 4, 3, 7.0])
    roll = rollup(item, feature, level, values, A.ARITHMETIC_MEAN)
    assert roll.row_item.tolist() == [0, 1, 2] and roll.row_value[:, 0].tolist() == [5, 3, 7]
    assert list(
        zip(
            roll.feature_item.tolist(),
            roll.feature_code.tolist(),
            roll.feature_value[:, 0].tolist(),
            strict=True,
        )
    ) == [(0, 0, 1.0), (0, 1, 3.0), (1, 0, 3.0)]
    no_own_row = rollup(item[1:6], feature[1:6], level[1:6], values[1:6], A.SUM)
    assert no_own_row.row_value[:, 0].tolist() == [1 + 2 + 4, 3]


positive = st.floats(min_value=1e-6, max_value=1e8, allow_nan=False, allow_infinity=False)
signed = st.floats(min_value=-1e8, max_value=1e8, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    aggregation=st.sampled_from(list(A)),
    groups=st.lists(
        st.lists(positive | st.just(0.0), min_size=1, max_size=30), min_size=1, max_size=8
    ),
    signed_groups=st.lists(st.lists(signed, min_size=1, max_size=30), min_size=1, max_size=8),
)
def test_property_grouped_reductions_match_reference(
    aggregation: Aggregation, groups: list[list[float]], signed_groups: list[list[float]]
) -> None:
    if aggregation in (A.ARITHMETIC_MEAN, A.SUM):
        groups = signed_groups  # negative values are allowed there
    elif aggregation is A.HARMONIC_MEAN:
        groups = [[v for v in g if v > 0] or [1.0] for g in groups]
    values = np.array([v for g in groups for v in g])
    keys = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    seg, counts = segment_reduce(values, run_starts(keys), aggregation)
    shuffled = np.random.default_rng(0).permutation(values.shape[0])
    keyed, _ = keyed_reduce(values[shuffled], keys[shuffled], len(groups), aggregation)
    for g, group in enumerate(groups):
        expected = reference(group, aggregation)
        scale = max(abs(v) for v in group) * len(group) if aggregation is A.SUM else 0.0
        tolerance = 1e-9 * max(abs(expected), 1e-300) + 1e-12 * scale
        assert abs(seg[g, 0] - expected) <= tolerance
        assert abs(keyed[g, 0] - expected) <= tolerance
        assert counts[g] == len(group)
        if aggregation is not A.SUM:  # every mean lies between the extremes
            slack = 1e-9 * max(abs(v) for v in group)
            assert min(group) - slack <= seg[g, 0] <= max(group) + slack
