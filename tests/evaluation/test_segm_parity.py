"""Segm parity with pycocotools through the engine's mask kernel, on the hard generated cases.

Every object gets an octagon inside its box; predictions keep their box too, so
pycocotools' loadRes takes their area from the box (w*h) even in segm mode -
the engine is given the same area. Crowd regions, boundary areas, ties, empty
images and >100 predictions per (image, category) come from ``make_case``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sliceboard.evaluation import coco_summary, evaluate
from sliceboard.evaluation.geometry.rle_iou import rle_similarity
from sliceboard.evaluation.geometry.rle_polygon import rle_from_polygons
from tests.support.coco_cases import (
    CocoCase,
    assert_same,
    case_inputs,
    make_case,
    run_pycocotools,
)


def octagon(box: list[float]) -> list[float]:
    x, y, w, h = box
    xs = [0.3, 0.7, 1.0, 1.0, 0.7, 0.3, 0.0, 0.0]
    ys = [0.0, 0.0, 0.3, 0.7, 1.0, 1.0, 0.7, 0.3]
    return [v for px, py in zip(xs, ys, strict=True) for v in (x + px * w, y + py * h)]


def with_masks(case: CocoCase) -> CocoCase:
    for ann in case.dataset["annotations"]:
        ann["segmentation"] = [octagon(ann["bbox"])]
    for det in case.detections:
        det["segmentation"] = [octagon(det["bbox"])]
    return case


@pytest.mark.parametrize("seed", range(3))
def test_segm_matches_pycocotools(seed: int) -> None:
    case = with_masks(make_case(600 + seed, n_images=16))
    gt, dt, _, n_items, n_labels, _ = case_inputs(case)
    size: dict[Any, tuple[int, int]] = {
        img["id"]: (img["height"], img["width"]) for img in case.dataset["images"]
    }

    def masks(objects: list[dict[str, Any]]) -> Any:
        heights = [size[o["image_id"]][0] for o in objects]
        widths = [size[o["image_id"]][1] for o in objects]
        return rle_from_polygons([o["segmentation"] for o in objects], heights, widths)

    similarity = rle_similarity(masks(case.detections), masks(case.dataset["annotations"]))
    table = evaluate(gt, dt, similarity, n_items, n_labels)
    summary = coco_summary(table, kind="segm")
    reference = run_pycocotools(case, "segm")
    assert_same(reference, summary)
    assert np.any(reference.eval["precision"] > -1)
