"""pycocotools as the reference: its stats for in-memory COCO dicts, and JSON writers."""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def pycocotools_eval(gt: dict[str, Any], dt: list[dict[str, Any]], iou_type: str) -> COCOeval:
    """COCOeval after summarize(), on deep copies (pycocotools mutates its inputs)."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dt))
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def pycocotools_stats(gt: dict[str, Any], dt: list[dict[str, Any]], iou_type: str) -> np.ndarray:
    return np.asarray(pycocotools_eval(gt, dt, iou_type).stats, dtype=np.float64)


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


def write_json(path: Path, value: Any) -> Path:
    path.write_bytes(orjson.dumps(value))
    return path
