"""Segment matching by Nucleus' rule on masks small enough to count by hand, and any slice of a
semantic table equal to a fresh evaluation of that slice's items alone (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sliceboard.evaluation.label_maps import LabelMap
from sliceboard.evaluation.semantic import (
    FALSE_NEGATIVE,
    FALSE_POSITIVE,
    GROUND_TRUTH,
    PREDICTION,
    TRUE_POSITIVE,
    MaskInput,
    evaluate_semantic,
)
from sliceboard.evaluation.semantic_metrics import (
    mean_image_iou,
    pixel_confusion,
    pixel_metrics,
    segment_metrics,
)

ROAD, CAR, SKY = 0, 1, 2  # label codes


def _mask(item: int, rows: list[str], segments: dict[int, int]) -> MaskInput:
    array = np.array([[int(c) for c in row] for row in rows], dtype=np.uint16)
    indices = np.array(sorted(segments), dtype=np.int64)
    return MaskInput(
        item, 100 + item, LabelMap.from_array(array), indices,
        np.array([segments[i] for i in indices.tolist()], dtype=np.int64),
    )  # fmt: skip


def _outcomes(table) -> dict[tuple[int, int], tuple[int, int, float]]:
    """(side, index) -> (outcome, partner label, IoU)."""
    return {
        (int(s), int(i)): (int(o), int(p), float(u))
        for s, i, o, p, u in zip(
            table.segment_side, table.segment_index, table.segment_outcome,
            table.segment_partner, table.segment_iou, strict=True,
        )
    }  # fmt: skip


def test_true_positives_first_then_confusions_above_one_percent() -> None:
    # 10 x 10 pixels. GT: index 1 road (rows 0-4), index 2 car (rows 5-9, cols 0-4),
    # index 3 road (rows 5-9, cols 5-9). Prediction: index 7 road covers rows 0-5 (the GT
    # road segment and a strip of car), index 8 sky covers the car area left, index 9 car
    # covers one pixel of GT segment 3 only.
    gt = _mask(0, ["1111111111"] * 5 + ["2222233333"] * 5, {1: ROAD, 2: CAR, 3: ROAD})
    dt_rows = ["7777777777"] * 6 + ["8888800000"] * 3 + ["8888800009"]
    dt = _mask(0, dt_rows, {7: ROAD, 8: SKY, 9: CAR})
    table = evaluate_semantic([gt], [dt], n_items=1, n_labels=3, ignore_index=0)
    got = _outcomes(table)
    # road 7 vs road 1: 50 / (50 + 60 - 50) = 5/6 -> true positive
    assert got[(GROUND_TRUTH, 1)] == (TRUE_POSITIVE, ROAD, 50 / 60)
    assert got[(PREDICTION, 7)] == (TRUE_POSITIVE, ROAD, 50 / 60)
    # car 2 (25 px): no car prediction overlaps it; sky 8 (20 px, all inside) pairs with it
    # across labels at IoU 20 / 25: a false negative and a false positive, confused
    assert got[(GROUND_TRUTH, 2)] == (FALSE_NEGATIVE, SKY, 20 / 25)
    assert got[(PREDICTION, 8)] == (FALSE_POSITIVE, CAR, 20 / 25)
    # road 3 (25 px, index 0 of the prediction is unlabelled there): car 9 overlaps it by
    # 1 px, IoU 1/25 = 4% > 1%, but the labels differ and road 3 is free: a confusion
    assert got[(GROUND_TRUTH, 3)] == (FALSE_NEGATIVE, CAR, 1 / 25)
    assert got[(PREDICTION, 9)] == (FALSE_POSITIVE, ROAD, 1 / 25)
    metrics = segment_metrics(table, None)
    assert metrics.tp.tolist() == [1, 0, 0]
    assert metrics.fn.tolist() == [1, 1, 0]  # road 3, car 2
    assert metrics.fp.tolist() == [0, 1, 1]  # car 9, sky 8
    assert metrics.confusion.tolist() == [
        [1, 1, 0, 0],  # road: TP with road, confused with car (segment 3)
        [0, 0, 1, 0],  # car: confused with sky
        [0, 0, 0, 0],
        [0, 0, 0, 0],  # background: every prediction paired
    ]


def test_one_percent_is_the_line() -> None:
    """IoU exactly 1% does not pair; just above does."""
    gt = _mask(0, ["1" * 100] * 1, {1: ROAD})  # 100 px
    at = _mask(0, ["2" + "0" * 99], {2: ROAD})  # 1 px inside: IoU 1/100
    table = evaluate_semantic([gt], [at], n_items=1, n_labels=3, ignore_index=0)
    assert _outcomes(table)[(GROUND_TRUTH, 1)][0] == FALSE_NEGATIVE
    gt = _mask(0, ["1" * 99 + "0"], {1: ROAD})  # 99 px: IoU 1/99
    table = evaluate_semantic([gt], [at], n_items=1, n_labels=3, ignore_index=0)
    assert _outcomes(table)[(GROUND_TRUTH, 1)][0] == TRUE_POSITIVE


def test_class_agnostic_pairs_across_labels() -> None:
    gt = _mask(0, ["11", "11"], {1: ROAD})
    dt = _mask(0, ["22", "22"], {2: CAR})
    allowed = np.ones((3, 3), dtype=bool)
    table = evaluate_semantic([gt], [dt], n_items=1, n_labels=3, ignore_index=0, allowed=allowed)
    assert _outcomes(table)[(GROUND_TRUTH, 1)] == (TRUE_POSITIVE, CAR, 1.0)


def test_ignored_pixels_count_nowhere() -> None:
    # GT index 0 (ignore) under half the prediction: the prediction's segment area is 2, not 4
    gt = _mask(0, ["11", "00"], {1: ROAD})
    dt = _mask(0, ["22", "22"], {2: ROAD})
    table = evaluate_semantic([gt], [dt], n_items=1, n_labels=3, ignore_index=0)
    assert _outcomes(table)[(PREDICTION, 2)] == (TRUE_POSITIVE, ROAD, 1.0)
    assert pixel_confusion(table, None).sum() == 2


@st.composite
def _runs(draw: st.DrawFn):
    n_items = draw(st.integers(1, 6))
    height, width = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    gt_values = st.sampled_from([0, 1, 2, 3, 4])
    dt_values = st.sampled_from([0, 1, 2, 5])
    gts, dts = [], []
    for item in range(n_items):
        if draw(st.booleans()) or item == 0:
            cells = draw(st.lists(gt_values, min_size=height * width, max_size=height * width))
            gts.append(MaskInput(item, item, LabelMap.from_array(np.array(cells, dtype=np.uint16).reshape(height, width)),
                                 np.array([1, 2, 3, 4]), np.array([0, 1, 2, 0])))  # fmt: skip
        if draw(st.booleans()):
            cells = draw(st.lists(dt_values, min_size=height * width, max_size=height * width))
            dts.append(MaskInput(item, 50 + item, LabelMap.from_array(np.array(cells, dtype=np.uint16).reshape(height, width)),
                                 np.array([1, 2, 5]), np.array([0, 1, 3])))  # fmt: skip
    chosen = draw(st.lists(st.booleans(), min_size=n_items, max_size=n_items))
    return n_items, gts, dts, np.array(chosen, dtype=bool)


def _numbers(table, mask):
    pixels = pixel_metrics(pixel_confusion(table, mask))
    segments = segment_metrics(table, mask)
    values = [pixels.confusion, pixels.iou, pixels.dice, pixels.precision, pixels.recall,
              segments.tp, segments.fp, segments.fn, segments.confusion, segments.f1]  # fmt: skip
    scalars = [pixels.mean_iou, pixels.pixel_accuracy, pixels.mean_class_accuracy,
               pixels.frequency_weighted_iou, mean_image_iou(table, mask)]  # fmt: skip
    return values, scalars


@settings(max_examples=150, deadline=None)
@given(_runs())
def test_a_slice_equals_a_fresh_evaluation_of_its_items(case) -> None:
    n_items, gts, dts, chosen = case
    whole = evaluate_semantic(gts, dts, n_items=n_items, n_labels=4, ignore_index=0)
    keep = set(np.flatnonzero(chosen).tolist())
    alone = evaluate_semantic(
        [m for m in gts if m.item in keep],
        [m for m in dts if m.item in keep],
        n_items=n_items,
        n_labels=4,
        ignore_index=0,
    )
    ours, ours_scalars = _numbers(whole, chosen)
    fresh, fresh_scalars = _numbers(alone, None)
    for a, b in zip(ours, fresh, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.array(ours_scalars), np.array(fresh_scalars))
