"""pycocotools as the reference, in memory: the one place tests and benches run ``COCOeval``.

``pycocotools_eval`` runs COCO() + loadRes + evaluate/accumulate/summarize on a ground-truth
dict and a result list, with its printing silenced. pycocotools writes into the objects it is
given (loadRes adds ``area``/``id``, evaluate adds ``ignore`` and turns segmentations into
RLE), so it works on copies of every annotation and result: the caller's dicts stay as they
were and can be fed to our side afterwards.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def pycocotools_eval(
    gt: dict[str, Any],
    dt: Sequence[dict[str, Any]],
    iou_type: str = "bbox",
    *,
    use_cats: bool = True,
    image_ids: Sequence[Any] | None = None,
) -> COCOeval:
    """COCOeval after summarize(); ``image_ids`` restricts it to those images (params.imgIds)."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {**gt, "annotations": [dict(a) for a in gt.get("annotations", [])]}
        coco_gt.createIndex()
        # loadRes cannot read an empty list; an empty COCO is pycocotools' "no results"
        coco_dt = coco_gt.loadRes([dict(d) for d in dt]) if dt else COCO()
        evaluator = COCOeval(coco_gt, coco_dt, iou_type)
        evaluator.params.useCats = int(use_cats)
        if image_ids is not None:
            evaluator.params.imgIds = sorted(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def pycocotools_stats(
    gt: dict[str, Any],
    dt: Sequence[dict[str, Any]],
    iou_type: str = "bbox",
    *,
    image_ids: Sequence[Any] | None = None,
) -> np.ndarray:
    """The 12 (10 for keypoints) summary numbers, float64."""
    ev = pycocotools_eval(gt, dt, iou_type, image_ids=image_ids)
    return np.asarray(ev.stats, dtype=np.float64)


def per_category(ev: COCOeval) -> list[tuple[float, float, float, float]]:
    """(ap, ap50, ap75, ar at the largest maxDets) per category, as pycocotools' arrays give them."""
    precision = ev.eval["precision"][:, :, :, 0, -1]
    recall = ev.eval["recall"][:, :, 0, -1]
    thresholds = ev.params.iouThrs

    def mean(s: np.ndarray) -> float:
        s = s[s > -1]
        return float(np.mean(s)) if s.size else -1.0

    out = []
    for k in range(precision.shape[2]):
        out.append(
            (
                mean(precision[:, :, k]),
                mean(precision[thresholds == 0.5][:, :, k]),
                mean(precision[thresholds == 0.75][:, :, k]),
                mean(recall[:, k]),
            )
        )
    return out
