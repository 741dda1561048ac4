"""Hand-computed golden cases for the three matching protocols and label options."""

from __future__ import annotations

import io

import numpy as np
import pytest

from sliceboard.evaluation import (
    FALSE_POSITIVE,
    IGNORED,
    TRUE_POSITIVE,
    EvaluationInputError,
    GroundTruth,
    Matching,
    MatchOptions,
    MatchTable,
    Predictions,
    ThresholdMetrics,
    evaluate,
    threshold_metrics,
)
from tests.support.golden import CAT, CONFUSION_IOU, DOG, confusion_case, evaluate_matrix

# d0 (0.9) overlaps g0 by 0.62; d1 (0.8) overlaps g0 by 0.81 and g1 by 0.57.
FALLBACK_IOU = [[0.62, 0.0], [0.81, 0.57]]


def fallback_case(matching: Matching) -> MatchTable:
    return evaluate_matrix(
        FALLBACK_IOU,
        gt_label=[0, 0],
        dt_label=[0, 0],
        dt_score=[0.9, 0.8],
        options=MatchOptions(matching=matching),
    )


def matches_at(table: MatchTable, threshold: float) -> list[int]:
    t0 = int(np.searchsorted(table.all_rows, table.row_index(threshold)))
    return [int(g) for g in table.dt_gt[t0]]


def totals(metrics: ThresholdMetrics) -> tuple[int, int, int]:
    overall = metrics.overall
    return int(overall.tp), int(overall.fp), int(overall.fn)


@pytest.mark.parametrize(
    ("matching", "expected"),
    [
        # confidence order: d0 takes g0, d1 falls back to g1.
        (Matching.CONFIDENCE, {0.5: [0, 1], 0.6: [0, -1], 0.7: [-1, 0]}),
        # no fallback: d1's best (g0) is taken, so d1 is a false positive.
        (Matching.NO_FALLBACK, {0.5: [0, -1], 0.6: [0, -1], 0.7: [-1, 0]}),
        # highest IoU first: d1-g0 (0.81) wins, d0 has nothing left.
        (Matching.IOU_GREEDY, {0.5: [-1, 0], 0.6: [-1, 0], 0.7: [-1, 0]}),
    ],
)
def test_protocols_on_the_fallback_case(
    matching: Matching, expected: dict[float, list[int]]
) -> None:
    table = fallback_case(matching)
    for threshold, dt_gt in expected.items():
        assert matches_at(table, threshold) == dt_gt, threshold


def test_counts_follow_the_protocol() -> None:
    confidence = threshold_metrics(fallback_case(Matching.CONFIDENCE), iou_threshold=0.5)
    no_fallback = threshold_metrics(fallback_case(Matching.NO_FALLBACK), iou_threshold=0.5)
    assert totals(confidence) == (2, 0, 0)
    assert totals(no_fallback) == (1, 1, 1)
    assert no_fallback.overall.precision == pytest.approx(0.5)
    assert no_fallback.overall.f1 == pytest.approx(0.5)


def test_equal_iou_goes_to_the_later_ground_truth_like_pycocotools() -> None:
    table = evaluate_matrix([[0.7, 0.7]], gt_label=[0, 0], dt_label=[0], dt_score=[0.5])
    assert matches_at(table, 0.5) == [1]


def test_equal_iou_goes_to_the_higher_score_under_iou_greedy() -> None:
    table = evaluate_matrix(
        [[0.7], [0.7]],
        gt_label=[0],
        dt_label=[0, 0],
        dt_score=[0.5, 0.9],
        options=MatchOptions(matching=Matching.IOU_GREEDY),
    )
    assert matches_at(table, 0.5) == [-1, 0]


@pytest.mark.parametrize("matching", list(Matching))
def test_crowd_absorbs_only_when_no_regular_ground_truth_matches(matching: Matching) -> None:
    table = evaluate_matrix(
        [[0.9, 0.55], [0.8, 0.0], [0.7, 0.0]],
        gt_label=[0, 0],
        dt_label=[0, 0, 0],
        dt_score=[0.9, 0.8, 0.7],
        gt_crowd=[True, False],
        options=MatchOptions(matching=matching),
    )
    row = table.row_index(0.5)
    assert table.dt_state[row].tolist() == [TRUE_POSITIVE, IGNORED, IGNORED]
    assert matches_at(table, 0.5) == [1, 0, 0]
    assert table.gt_dt[int(np.searchsorted(table.all_rows, row))].tolist() == [-1, 0]
    metrics = threshold_metrics(table, iou_threshold=0.5)
    assert totals(metrics) == (1, 0, 0)


def test_confusion_matrix_rows_ground_truth_columns_prediction() -> None:
    metrics = threshold_metrics(confusion_case(), iou_threshold=0.5)
    # rows: gt cat, gt dog, background; columns: pred cat, pred dog, background
    assert metrics.confusion.tolist() == [[1, 0, 0], [1, 0, 1], [0, 2, 0]]
    assert metrics.per_label.tp.tolist() == [1, 0]
    assert metrics.per_label.fp.tolist() == [1, 2]
    assert metrics.per_label.fn.tolist() == [0, 2]
    assert metrics.per_label.precision.tolist() == [0.5, 0.0]
    assert metrics.per_label.recall.tolist() == [1.0, 0.0]
    assert metrics.per_label.f1.tolist() == pytest.approx([2 / 3, 0.0])


def test_without_the_confusion_pass_misses_go_to_background() -> None:
    table = evaluate_matrix(
        CONFUSION_IOU,
        gt_label=[CAT, DOG, DOG],
        dt_label=[CAT, DOG, CAT, DOG],
        dt_score=[0.9, 0.8, 0.7, 0.6],
        n_labels=2,
        confusion=False,
    )
    assert table.dt_confused_gt.shape == (0, 4)
    metrics = threshold_metrics(table, iou_threshold=0.5)
    assert metrics.confusion.tolist() == [[1, 0, 0], [0, 0, 2], [1, 2, 0]]


def test_confidence_threshold_drops_low_scores() -> None:
    metrics = threshold_metrics(confusion_case(), iou_threshold=0.5, confidence_threshold=0.65)
    assert metrics.confusion.tolist() == [[1, 0, 0], [1, 0, 1], [0, 1, 0]]
    assert metrics.per_label.fp.tolist() == [1, 1]


@pytest.mark.parametrize(
    "options", [{"allowed_label_matches": ((DOG, CAT),)}, {"class_agnostic": True}]
)
def test_cross_label_matches_count_in_the_ground_truth_label(options: dict[str, object]) -> None:
    metrics = threshold_metrics(confusion_case(**options), iou_threshold=0.5)
    assert metrics.per_label.tp.tolist() == [1, 1]  # d2 (cat) matched g1 (dog)
    assert metrics.per_label.fp.tolist() == [0, 2]
    assert metrics.per_label.fn.tolist() == [0, 1]
    assert metrics.confusion.tolist() == [[1, 0, 0], [1, 0, 1], [0, 2, 0]]


def test_allowed_pairs_are_directional() -> None:
    # (gt cat, pred dog) is not allowed by (gt dog, pred cat): d1 stays unmatched.
    table = confusion_case(allowed_label_matches=((DOG, CAT),))
    assert matches_at(table, 0.5) == [0, -1, 1, -1]


def test_pr_curve_has_one_point_per_score_with_its_confidence() -> None:
    metrics = threshold_metrics(confusion_case(), iou_threshold=0.5, labels=[CAT])
    curve = metrics.pr_curve
    assert curve.label.tolist() == [CAT, CAT]
    assert curve.confidence.tolist() == [0.9, 0.7]
    assert curve.precision.tolist() == [1.0, 0.5]
    assert curve.recall.tolist() == [1.0, 1.0]
    assert metrics.overall.tp == 1 and metrics.labels.tolist() == [CAT]


def test_thresholds_on_the_005_grid_map_to_stored_values() -> None:
    table = confusion_case()
    assert table.row_threshold[table.row_index(0.9)] == np.linspace(0.5, 0.95, 10)[8]
    assert threshold_metrics(table, iou_threshold=0.9).iou_threshold == 0.8999999999999999
    for t in np.round(np.arange(1, 20) * 0.05, 2):
        table.row_index(float(t))
    with pytest.raises(EvaluationInputError):
        table.row_index(0.93)


def test_match_table_round_trips_through_npz() -> None:
    table = confusion_case(allowed_label_matches=((DOG, CAT),))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **table.to_arrays())  # type: ignore[arg-type]
    buffer.seek(0)
    with np.load(buffer) as arrays:
        restored = MatchTable.from_arrays(arrays)
    assert restored.n_items == table.n_items and restored.matching == "CONFIDENCE"
    for name, value in table.to_arrays().items():
        np.testing.assert_array_equal(restored.to_arrays()[name], value, err_msg=name)
    first = threshold_metrics(table, iou_threshold=0.5)
    second = threshold_metrics(restored, iou_threshold=0.5)
    np.testing.assert_array_equal(first.confusion, second.confusion)


def test_predictions_beyond_max_detections_are_not_evaluated() -> None:
    table = evaluate_matrix(
        [[0.9], [0.8], [0.7]],
        gt_label=[0],
        dt_label=[0, 0, 0],
        dt_score=[0.3, 0.9, 0.5],
        options=MatchOptions(max_detections=(1, 2)),
    )
    assert table.dt_rank.tolist() == [2, 0, 1]
    assert table.dt_state[table.row_index(0.5)].tolist() == [-1, TRUE_POSITIVE, FALSE_POSITIVE]


def test_bad_indices_raise_typed_errors() -> None:
    with pytest.raises(EvaluationInputError):
        evaluate_matrix([[0.5]], gt_label=[3], dt_label=[0], dt_score=[0.5])
    with pytest.raises(EvaluationInputError):
        threshold_metrics(confusion_case(), item_mask=np.ones(5, dtype=bool))


def test_invalid_options_and_kernels_raise_typed_errors() -> None:
    bad_options = [
        MatchOptions(iou_thresholds=()),
        MatchOptions(iou_thresholds=(0.5, 1.5)),
        MatchOptions(iou_thresholds=(0.5, 0.5)),
        MatchOptions(max_detections=(0,)),
        MatchOptions(area_ranges=(("all", 10.0, 1.0),)),
        MatchOptions(area_ranges=(("all", 0.0, 1.0), ("all", 0.0, 2.0))),
        MatchOptions(allowed_label_matches=((0, 7),)),
    ]
    for options in bad_options:
        with pytest.raises(EvaluationInputError):
            evaluate_matrix([[0.5]], gt_label=[0], dt_label=[0], dt_score=[0.5], options=options)

    def short_kernel(
        dt_index: np.ndarray, gt_index: np.ndarray, gt_crowd: np.ndarray
    ) -> np.ndarray:
        return np.zeros(dt_index.shape[0] + 1)

    gt = GroundTruth.from_arrays(item=[0], label=[0], area=[1.0])
    dt = Predictions.from_arrays(item=[0], label=[0], score=[0.5], area=[1.0])
    with pytest.raises(EvaluationInputError, match="similarity returned"):
        evaluate(gt, dt, short_kernel, 1, 1)
