"""Evaluation options in their one typed form: the stored camelCase JSON reads back (rows written
before this form existed included), validation names every bad option, and the engine gets the
limits COCO uses per flavour."""

from __future__ import annotations

import pytest

from sliceboard.errors import InvalidInput
from sliceboard.evaluation import EmptyClasses, Matching
from sliceboard.services.evaluation.options import EvaluationOptions, LabelMatch, match_options

# What the service stored (and Evaluation.options showed) before options had a typed form.
STORED_DEFAULT = {
    "matching": "CONFIDENCE",
    "classAgnostic": False,
    "allowedLabelMatches": [],
    "iouThresholds": None,
    "maxDetections": 100,
    "emptyClasses": "EXCLUDE",
}
STORED_CHOSEN = {
    "matching": "IOU_GREEDY",
    "classAgnostic": True,
    "allowedLabelMatches": [["cat", "dog"]],
    "iouThresholds": [0.3, 0.5],
    "maxDetections": 5,
    "emptyClasses": "INCLUDE",
}


def test_stored_json_reads_back_into_the_typed_form() -> None:
    options = EvaluationOptions.from_json(STORED_CHOSEN)
    assert options == EvaluationOptions(
        matching=Matching.IOU_GREEDY,
        class_agnostic=True,
        allowed_label_matches=(LabelMatch("cat", "dog"),),
        iou_thresholds=(0.3, 0.5),
        max_detections=5,
        empty_classes=EmptyClasses.INCLUDE,
    )
    assert list(options.to_json().items()) == list(STORED_CHOSEN.items())


def test_defaults_are_stored_as_before_and_a_row_without_options_reads_as_them() -> None:
    assert list(EvaluationOptions().to_json().items()) == list(STORED_DEFAULT.items())
    assert EvaluationOptions.from_json(None) == EvaluationOptions()
    assert EvaluationOptions.from_json({"maxDetections": 7}) == EvaluationOptions(max_detections=7)


def test_checked_sorts_thresholds() -> None:
    checked = EvaluationOptions(iou_thresholds=(0.75, 0.5)).checked()
    assert checked.iou_thresholds == (0.5, 0.75)
    assert checked.to_json()["iouThresholds"] == [0.5, 0.75]


def test_checked_names_every_bad_option() -> None:
    options = EvaluationOptions(
        allowed_label_matches=(LabelMatch(" ", "dog"),),
        iou_thresholds=(0.5, 0.5, 1.5),
        max_detections=0,
    )
    with pytest.raises(InvalidInput) as raised:
        options.checked()
    assert [issue.path for issue in raised.value.issues] == [
        "options.allowedLabelMatches[0].groundTruthLabel",
        "options.iouThresholds[2]",
        "options.iouThresholds",
        "options.maxDetections",
    ]
    with pytest.raises(InvalidInput) as raised:
        EvaluationOptions(iou_thresholds=()).checked()
    assert [issue.path for issue in raised.value.issues] == ["options.iouThresholds"]


def test_engine_limits_per_flavour() -> None:
    labels = ["cat", "dog"]
    chosen = EvaluationOptions(allowed_label_matches=(LabelMatch("dog", "cat"),))
    boxes = match_options(chosen, labels, "bbox")
    assert boxes.max_detections == (1, 10, 100)
    assert boxes.allowed_label_matches == ((1, 0),)
    assert match_options(EvaluationOptions(), labels, "keypoints").max_detections == (20,)
    assert match_options(
        EvaluationOptions(max_detections=3), labels, "keypoints"
    ).max_detections == (3,)
    assert match_options(EvaluationOptions(iou_thresholds=(0.5,)), labels).iou_thresholds == (0.5,)
