"""Classification metrics on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation.classification import classification_metrics


def test_hand_computed_three_classes() -> None:
    gt = ["cat", "cat", "dog", "dog", "bird", "cat"]
    pred = ["cat", "dog", "dog", "dog", "cat", "cat"]
    report = classification_metrics(gt, pred)
    assert report.labels == ["bird", "cat", "dog"]
    # rows gt (bird, cat, dog, background), columns prediction
    assert report.confusion.tolist() == [
        [0, 1, 0, 0],
        [0, 2, 1, 0],
        [0, 0, 2, 0],
        [0, 0, 0, 0],
    ]
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.true_positives.tolist() == [0, 2, 2]
    assert report.false_positives.tolist() == [0, 1, 1]
    assert report.false_negatives.tolist() == [1, 1, 0]
    np.testing.assert_allclose(report.precision, [0.0, 2 / 3, 2 / 3])
    np.testing.assert_allclose(report.recall, [0.0, 2 / 3, 1.0])
    np.testing.assert_allclose(report.f1, [0.0, 2 / 3, 0.8])
    assert report.macro_f1 == pytest.approx((0 + 2 / 3 + 0.8) / 3)


def test_missing_predictions_and_ground_truth_use_background() -> None:
    gt = ["a", None, "b", None]
    pred = [None, "a", "b", None]
    report = classification_metrics(gt, pred)
    assert report.confusion.tolist() == [
        [0, 0, 1],  # a: no prediction
        [0, 1, 0],
        [1, 0, 0],  # background predicted as a
    ]
    assert report.accuracy == pytest.approx(0.5)
    assert report.precision.tolist() == [0.0, 1.0]
    assert report.recall.tolist() == [0.0, 1.0]


def test_confidence_threshold_drops_low_predictions() -> None:
    gt = ["a", "a", "b"]
    pred = ["a", "a", "a"]
    report = classification_metrics(gt, pred, confidence=[0.9, 0.2, 0.8], confidence_threshold=0.5)
    assert report.true_positives.tolist() == [1, 0]
    assert report.false_negatives.tolist() == [1, 1]
    assert report.false_positives.tolist() == [1, 0]
    assert report.confusion[0, 2] == 1  # the dropped prediction is a miss
    assert report.accuracy == pytest.approx(1 / 3)


def test_label_match_is_exact() -> None:
    report = classification_metrics(["Cat"], ["cat"])
    assert report.labels == ["Cat", "cat"]
    assert report.accuracy == 0.0


def test_empty_input() -> None:
    report = classification_metrics([], [])
    assert report.labels == []
    assert report.confusion.tolist() == [[0]]
    assert report.accuracy == 0.0 and report.macro_f1 == 0.0


def test_length_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="predictions"):
        classification_metrics(["a"], [])
    with pytest.raises(ValueError, match="confidences"):
        classification_metrics(["a"], ["a"], confidence=[0.1, 0.2])
