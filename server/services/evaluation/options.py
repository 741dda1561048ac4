"""The options of one evaluation (DESIGN.md §3), in one typed form from request to engine.

The GraphQL layer builds an ``EvaluationOptions`` from its input; ``checked`` validates it with
issue paths in the contract's names; it is stored as camelCase JSON (``to_json``: what
``Evaluation.options`` shows) and read back with ``from_json``; ``match_options`` turns it into
the engine's ``MatchOptions`` for one run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sliceboard.evaluation import (
    COCO_IOU_THRESHOLDS,
    LOW_IOU_THRESHOLDS,
    EmptyClasses,
    Matching,
    MatchOptions,
)
from sliceboard.services.validation.fields import LABEL_MAX, check_text
from sliceboard.services.validation.issues import Issues

__all__ = [
    "EmptyClasses",
    "EvaluationOptions",
    "LabelMatch",
    "Matching",
    "OptionLimits",
    "match_options",
]

DEFAULT_MAX_DETECTIONS = 100
#: COCO's keypoint protocol counts 20 detections per image where boxes count 100.
KEYPOINT_MAX_DETECTIONS = 20


@dataclass(frozen=True)
class OptionLimits:
    """How far each option may go (settings ``max_iou_thresholds``, ``max_detections_limit``,
    ``max_label_matches``): the engine's memory and time grow with each of them, so a 40 KB
    request for 10,000 thresholds is refused instead of exhausting the worker."""

    max_iou_thresholds: int = 20
    max_detections: int = 10_000
    max_label_matches: int = 1_000


@dataclass(frozen=True)
class LabelMatch:
    """A ground-truth label a prediction of another label may match."""

    ground_truth_label: str
    model_prediction_label: str


@dataclass(frozen=True)
class EvaluationOptions:
    matching: Matching = Matching.CONFIDENCE
    class_agnostic: bool = False
    allowed_label_matches: tuple[LabelMatch, ...] = ()
    iou_thresholds: tuple[float, ...] | None = None  # None: COCO's 0.50:0.05:0.95
    max_detections: int = DEFAULT_MAX_DETECTIONS
    empty_classes: EmptyClasses = EmptyClasses.EXCLUDE

    def checked(self, limits: OptionLimits = OptionLimits()) -> EvaluationOptions:
        """These options with their thresholds sorted.

        Raises:
            InvalidInput: every offending option, with its path (``options.iouThresholds[1]``).
        """
        issues = Issues()
        self._check_label_matches(limits, issues)
        thresholds = self.iou_thresholds
        if thresholds is not None:
            _check_thresholds(thresholds, limits, issues)
            if not issues:
                thresholds = tuple(sorted(float(t) for t in thresholds))
        if not 1 <= self.max_detections <= limits.max_detections:
            issues.add("options.maxDetections", f"must lie in 1..{limits.max_detections}")
        issues.raise_if_any()
        return replace(self, iou_thresholds=thresholds)

    def _check_label_matches(self, limits: OptionLimits, issues: Issues) -> None:
        pairs = self.allowed_label_matches
        if len(pairs) > limits.max_label_matches:
            issues.add(
                "options.allowedLabelMatches",
                f"must hold at most {limits.max_label_matches} pairs, got {len(pairs)}",
            )
            return
        for k, pair in enumerate(pairs):
            for name, value in (
                ("groundTruthLabel", pair.ground_truth_label),
                ("modelPredictionLabel", pair.model_prediction_label),
            ):
                path = f"options.allowedLabelMatches[{k}].{name}"
                check_text(value, path, issues, max_length=LABEL_MAX)

    def to_json(self) -> dict[str, Any]:
        """The stored form, in the contract's names (``Evaluation.options``)."""
        return {
            "matching": self.matching.value,
            "classAgnostic": self.class_agnostic,
            "allowedLabelMatches": [
                [pair.ground_truth_label, pair.model_prediction_label]
                for pair in self.allowed_label_matches
            ],
            "iouThresholds": None if self.iou_thresholds is None else list(self.iou_thresholds),
            "maxDetections": self.max_detections,
            "emptyClasses": self.empty_classes.value,
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any] | None) -> EvaluationOptions:
        """Inverse of :meth:`to_json`; an option a stored row lacks takes its default."""
        stored = stored or {}
        default = cls()
        thresholds = stored.get("iouThresholds")
        return cls(
            matching=Matching(stored.get("matching", default.matching.value)),
            class_agnostic=bool(stored.get("classAgnostic", default.class_agnostic)),
            allowed_label_matches=tuple(
                LabelMatch(gt, dt) for gt, dt in stored.get("allowedLabelMatches") or ()
            ),
            iou_thresholds=None if thresholds is None else tuple(float(t) for t in thresholds),
            max_detections=int(stored.get("maxDetections", default.max_detections)),
            empty_classes=EmptyClasses(stored.get("emptyClasses", default.empty_classes.value)),
        )


def _check_thresholds(thresholds: tuple[float, ...], limits: OptionLimits, issues: Issues) -> None:
    if not thresholds:
        issues.add("options.iouThresholds", "must hold at least one threshold")
        return
    if len(thresholds) > limits.max_iou_thresholds:
        issues.add(
            "options.iouThresholds",
            f"must hold at most {limits.max_iou_thresholds} thresholds, got {len(thresholds)}",
        )
        return
    for k, t in enumerate(thresholds):
        if not isinstance(t, int | float) or not math.isfinite(t) or not 0.0 < t <= 1.0:
            issues.add(f"options.iouThresholds[{k}]", "must lie in (0, 1]")
    if len(set(thresholds)) != len(thresholds):
        issues.add("options.iouThresholds", "must not repeat a threshold")


def match_options(
    options: EvaluationOptions, label_names: list[str], kind: str = "bbox"
) -> MatchOptions:
    """Engine options for a run; the 0.05 grid below COCO's thresholds is always evaluated so
    any threshold on it can be queried later. Keypoints follow COCO: maxDets 20 (unless the
    user chose another limit) and no "small" area range."""
    index = {name: k for k, name in enumerate(label_names)}
    allowed = tuple(
        (index[pair.ground_truth_label], index[pair.model_prediction_label])
        for pair in options.allowed_label_matches
        if pair.ground_truth_label in index and pair.model_prediction_label in index
    )
    main = options.iou_thresholds or tuple(float(t) for t in COCO_IOU_THRESHOLDS)
    extra = tuple(
        float(t) for t in LOW_IOU_THRESHOLDS if not np.any(np.abs(np.array(main) - t) < 1e-9)
    )
    m = options.max_detections
    if kind == "keypoints":
        return MatchOptions.keypoints(
            matching=options.matching,
            class_agnostic=options.class_agnostic,
            allowed_label_matches=allowed,
            iou_thresholds=main,
            extra_iou_thresholds=extra,
            max_detections=(KEYPOINT_MAX_DETECTIONS if m == DEFAULT_MAX_DETECTIONS else m,),
            empty_classes=options.empty_classes,
        )
    return MatchOptions(
        matching=options.matching,
        class_agnostic=options.class_agnostic,
        allowed_label_matches=allowed,
        iou_thresholds=main,
        extra_iou_thresholds=extra,
        max_detections=tuple(sorted({min(1, m), min(10, m), m})),
        empty_classes=options.empty_classes,
    )
