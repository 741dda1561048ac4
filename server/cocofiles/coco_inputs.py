"""Loaded COCO files -> the arguments of ``sliceboard.evaluation.evaluate``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sliceboard.cocofiles.ground_truth import CocoGroundTruth
from sliceboard.cocofiles.results import CocoResults
from sliceboard.evaluation.geometry.boxes import box_similarity
from sliceboard.evaluation.geometry.kernel import Similarity
from sliceboard.evaluation.geometry.keypoints import KeypointBatch, oks_similarity
from sliceboard.evaluation.geometry.rle_iou import rle_similarity
from sliceboard.evaluation.types import GroundTruth, MatchOptions, Predictions

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CocoInputs:
    gt: GroundTruth
    dt: Predictions
    similarity: Similarity
    n_items: int
    n_labels: int
    options: MatchOptions


def similarity_for(gt: CocoGroundTruth, dt: CocoResults) -> Similarity:
    """The IoU (bbox, segm) or OKS (keypoints) kernel over the two files' objects."""
    if gt.iou_type == "bbox":
        return box_similarity(dt.bbox, gt.bbox)
    if gt.iou_type == "segm":
        assert gt.masks is not None and dt.masks is not None
        return rle_similarity(dt.masks, gt.masks)
    assert gt.keypoints is not None and dt.keypoints is not None
    return oks_similarity(_keypoints(dt.keypoints), _keypoints(gt.keypoints), gt.area, gt.bbox)


def _keypoints(flat: FloatArray) -> KeypointBatch:
    """(n, 3k) COCO rows [x1, y1, v1, ...] as a batch of n sets of k keypoints."""
    n, width = flat.shape
    rows = np.ascontiguousarray(flat).reshape(-1)  # views, not copies: the OKS kernel reads
    return KeypointBatch(  # them in place (native.oks), numpy's through fancy indexing
        x=rows[0::3],
        y=rows[1::3],
        visibility=rows[2::3],
        offsets=np.arange(n + 1, dtype=np.int64) * (width // 3),
    )


def coco_inputs(gt: CocoGroundTruth, dt: CocoResults) -> CocoInputs:
    """pycocotools' default parameters for the ground truth's iou type.

    Only COCO's ten IoU thresholds are matched (no extra low thresholds): the
    command reports COCO's numbers and nothing else.
    """
    base = MatchOptions.keypoints() if gt.iou_type == "keypoints" else MatchOptions()
    options = MatchOptions(
        iou_thresholds=base.iou_thresholds,
        extra_iou_thresholds=(),
        max_detections=base.max_detections,
        area_ranges=base.area_ranges,
    )
    return CocoInputs(
        gt=GroundTruth(gt.item, gt.label, gt.area, gt.iscrowd, gt.ignore),
        dt=Predictions(dt.item, dt.label, dt.score, dt.area),
        similarity=similarity_for(gt, dt),
        n_items=len(gt.image_ids),
        n_labels=len(gt.category_ids),
        options=options,
    )
