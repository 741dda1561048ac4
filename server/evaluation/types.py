"""Inputs and options of the matching engine: flat, columnar numpy arrays.

Ground truths and predictions are given as parallel arrays, one row per object
(G ground truths, P predictions). ``item`` is an integer index 0..n_items-1 and
``label`` an integer index 0..n_labels-1; the caller maps its ids to indices.
Item order matters in one place only: among predictions of equal score in
different items, the one of the lower item index ranks first (pycocotools sorts
image ids), and input order breaks ties inside an item, so storage must keep
upload order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]

#: pycocotools' IoU thresholds, built exactly as ``Params.setDetParams`` builds them.
COCO_IOU_THRESHOLDS: FloatArray = np.linspace(
    0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True
)
#: The 0.05 grid below COCO's, evaluated on the "all" area range only.
LOW_IOU_THRESHOLDS: FloatArray = np.round(np.arange(1, 10) * 0.05, 2)
#: pycocotools' 101 recall points.
RECALL_THRESHOLDS: FloatArray = np.linspace(0.0, 1.0, int(np.round(1.0 / 0.01)) + 1, endpoint=True)

#: Area ranges (name, low, high) of COCO box/mask evaluation, on the gt ``area``.
COCO_AREA_RANGES: tuple[tuple[str, float, float], ...] = (
    ("all", 0.0, 1e5**2),
    ("small", 0.0, 32.0**2),
    ("medium", 32.0**2, 96.0**2),
    ("large", 96.0**2, 1e5**2),
)
#: Keypoint evaluation drops the "small" range.
KEYPOINT_AREA_RANGES: tuple[tuple[str, float, float], ...] = (
    ("all", 0.0, 1e5**2),
    ("medium", 32.0**2, 96.0**2),
    ("large", 96.0**2, 1e5**2),
)


class EvaluationInputError(ValueError):
    """Inputs of the engine are inconsistent (lengths, index ranges, options)."""


class Matching(enum.Enum):
    """How predictions claim ground truths inside one item."""

    #: pycocotools: predictions by descending score each take the best free gt.
    CONFIDENCE = "CONFIDENCE"
    #: Nucleus / Labelbox: highest-IoU pairs first, confidence aside.
    IOU_GREEDY = "IOU_GREEDY"
    #: Encord / Kolena: a prediction competes only for its single best-IoU gt.
    NO_FALLBACK = "NO_FALLBACK"


class EmptyClasses(enum.Enum):
    """What a class with predictions but no ground truth contributes to means."""

    #: COCO, torchmetrics: the class is -1 and left out of the mean.
    EXCLUDE = "EXCLUDE"
    #: Encord: the class counts with AP 0 (and AR 0).
    INCLUDE = "INCLUDE"


def _as(array: object, dtype: type, name: str, n: int | None = None) -> NDArray[np.generic]:
    out: NDArray[np.generic] = np.ascontiguousarray(np.asarray(array, dtype=dtype).reshape(-1))
    if n is not None and out.shape[0] != n:
        raise EvaluationInputError(f"{name} has {out.shape[0]} rows, expected {n}")
    return out


@dataclass(frozen=True)
class GroundTruth:
    """G ground-truth objects.

    Attributes:
        item: int64 (G,) item index.
        label: int64 (G,) label index.
        area: float64 (G,) the object's ``area`` field (decides its area range).
        iscrowd: bool (G,) crowd region: IoU is intersection over the prediction's
            area, it absorbs any number of predictions and is never a miss.
        ignore: bool (G,) ignored for another reason (e.g. keypoints with
            ``num_keypoints == 0``); crowd regions are always ignored.
    """

    item: IntArray
    label: IntArray
    area: FloatArray
    iscrowd: BoolArray
    ignore: BoolArray

    @classmethod
    def from_arrays(
        cls,
        item: object,
        label: object,
        area: object,
        iscrowd: object | None = None,
        ignore: object | None = None,
    ) -> GroundTruth:
        """Builds from array-likes; missing flags default to all False."""
        it = _as(item, np.int64, "gt.item")
        n = it.shape[0]
        return cls(
            item=it,  # type: ignore[arg-type]
            label=_as(label, np.int64, "gt.label", n),  # type: ignore[arg-type]
            area=_as(area, np.float64, "gt.area", n),  # type: ignore[arg-type]
            iscrowd=_as(np.zeros(n) if iscrowd is None else iscrowd, bool, "gt.iscrowd", n),  # type: ignore[arg-type]
            ignore=_as(np.zeros(n) if ignore is None else ignore, bool, "gt.ignore", n),  # type: ignore[arg-type]
        )

    def __len__(self) -> int:
        return int(self.item.shape[0])


@dataclass(frozen=True)
class Predictions:
    """P predictions.

    Attributes:
        item: int64 (P,) item index.
        label: int64 (P,) label index.
        score: float64 (P,) confidence.
        area: float64 (P,) the prediction's own area (its box w*h when it has a
            box, even in segm mode; else its mask area) - filters it by area range.
    """

    item: IntArray
    label: IntArray
    score: FloatArray
    area: FloatArray

    @classmethod
    def from_arrays(cls, item: object, label: object, score: object, area: object) -> Predictions:
        """Builds from array-likes."""
        it = _as(item, np.int64, "dt.item")
        n = it.shape[0]
        return cls(
            item=it,  # type: ignore[arg-type]
            label=_as(label, np.int64, "dt.label", n),  # type: ignore[arg-type]
            score=_as(score, np.float64, "dt.score", n),  # type: ignore[arg-type]
            area=_as(area, np.float64, "dt.area", n),  # type: ignore[arg-type]
        )

    def __len__(self) -> int:
        return int(self.item.shape[0])


@dataclass(frozen=True)
class MatchOptions:
    """How to match; the defaults are pycocotools' bbox/segm settings.

    Attributes:
        matching: the matching protocol.
        class_agnostic: any prediction may match any ground truth; maxDets is
            then per item (pycocotools ``useCats=0``).
        allowed_label_matches: extra (gt label, prediction label) pairs that may match.
        iou_thresholds: thresholds evaluated on every area range (COCO's summary).
        extra_iou_thresholds: thresholds evaluated on the first ("all") area range only.
        max_detections: maxDets; matching keeps the top ``max(max_detections)``
            predictions per (item, label) (per item when class-agnostic).
        area_ranges: (name, low, high) on gt ``area``; the first is the one
            threshold metrics, PR curves and confusion matrices use ("all").
        empty_classes: see :class:`EmptyClasses`.
    """

    matching: Matching = Matching.CONFIDENCE
    class_agnostic: bool = False
    allowed_label_matches: tuple[tuple[int, int], ...] = ()
    iou_thresholds: tuple[float, ...] = tuple(float(t) for t in COCO_IOU_THRESHOLDS)
    extra_iou_thresholds: tuple[float, ...] = tuple(float(t) for t in LOW_IOU_THRESHOLDS)
    max_detections: tuple[int, ...] = (1, 10, 100)
    area_ranges: tuple[tuple[str, float, float], ...] = field(default=COCO_AREA_RANGES)
    empty_classes: EmptyClasses = EmptyClasses.EXCLUDE

    @classmethod
    def keypoints(cls, **overrides: object) -> MatchOptions:
        """pycocotools' keypoint settings: maxDets (20,), no "small" range."""
        base: dict[str, object] = {
            "max_detections": (20,),
            "area_ranges": KEYPOINT_AREA_RANGES,
        }
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]

    def validate(self) -> None:
        """Raises EvaluationInputError on options the engine cannot honour."""
        if not self.iou_thresholds:
            raise EvaluationInputError("iou_thresholds must not be empty")
        for t in (*self.iou_thresholds, *self.extra_iou_thresholds):
            if not 0.0 <= t <= 1.0:
                raise EvaluationInputError(f"IoU threshold {t} is outside [0, 1]")
        if not self.max_detections or min(self.max_detections) < 1:
            raise EvaluationInputError("max_detections must hold positive integers")
        if not self.area_ranges:
            raise EvaluationInputError("area_ranges must not be empty")
        for name, low, high in self.area_ranges:
            if low > high:
                raise EvaluationInputError(f"area range {name!r} has low > high")
        names = [r[0] for r in self.area_ranges]
        if len(set(names)) != len(names):
            raise EvaluationInputError(f"area range names must be unique: {names}")
        if len(set(self.iou_thresholds)) != len(self.iou_thresholds):
            raise EvaluationInputError("iou_thresholds must be distinct")
