"""The ``EvaluationOptions`` input (DESIGN.md §3) and its one conversion to the service's
``EvaluationOptions``: options left out take the service's defaults."""

from __future__ import annotations

from enum import Enum

import strawberry

from sliceboard.services.evaluation import options as service


@strawberry.enum
class Matching(Enum):
    CONFIDENCE = "CONFIDENCE"
    IOU_GREEDY = "IOU_GREEDY"
    NO_FALLBACK = "NO_FALLBACK"


@strawberry.enum
class EmptyClasses(Enum):
    EXCLUDE = "EXCLUDE"
    INCLUDE = "INCLUDE"


@strawberry.input
class LabelMatchInput:
    ground_truth_label: str
    model_prediction_label: str


@strawberry.input(name="EvaluationOptions")
class EvaluationOptionsInput:
    matching: Matching | None = Matching.CONFIDENCE
    class_agnostic: bool | None = False
    allowed_label_matches: list[LabelMatchInput] | None = strawberry.UNSET
    iou_thresholds: list[float] | None = strawberry.UNSET
    max_detections: int | None = 100
    empty_classes: EmptyClasses | None = EmptyClasses.EXCLUDE


def options_from_input(options: EvaluationOptionsInput | None) -> service.EvaluationOptions:
    """The service's options (null or left out: the default); the service validates them."""
    default = service.EvaluationOptions()
    if options is None:
        return default
    matching, empty_classes = options.matching, options.empty_classes
    pairs = options.allowed_label_matches if isinstance(options.allowed_label_matches, list) else []
    thresholds = options.iou_thresholds
    return service.EvaluationOptions(
        matching=default.matching if matching is None else service.Matching(matching.value),
        class_agnostic=(
            default.class_agnostic if options.class_agnostic is None else options.class_agnostic
        ),
        allowed_label_matches=tuple(
            service.LabelMatch(m.ground_truth_label, m.model_prediction_label) for m in pairs
        ),
        iou_thresholds=tuple(thresholds) if isinstance(thresholds, list) else None,
        max_detections=(
            default.max_detections if options.max_detections is None else options.max_detections
        ),
        empty_classes=(
            default.empty_classes
            if empty_classes is None
            else service.EmptyClasses(empty_classes.value)
        ),
    )
