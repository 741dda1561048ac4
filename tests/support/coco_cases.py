"""Synthetic COCO-style cases with the hard parts, as pycocotools and our engine take them.

Used by the parity tests: the same data goes through pycocotools (``bench.pycoco``) and
through our engine (``case_inputs``/``run_engine``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools.cocoeval import COCOeval

from bench.pycoco import pycocotools_eval, pycocotools_stats
from sliceboard.evaluation import (
    GroundTruth,
    Matching,
    MatchOptions,
    Predictions,
    box_areas,
    box_similarity,
    coco_summary,
    evaluate,
)
from sliceboard.evaluation.coco_metrics import CocoSummary
from sliceboard.evaluation.match_table import MatchTable

CATEGORY_IDS = (3, 7, 8, 21, 40)  # non-contiguous; 40 never has ground truth


@dataclass
class CocoCase:
    """A ground-truth dataset dict and a detection list, as pycocotools takes them."""

    dataset: dict[str, Any]
    detections: list[dict[str, Any]]
    image_keys: list[str]  # string ids of the images, in item order


def make_case(seed: int, n_images: int = 24, *, tied_scores: bool = True) -> CocoCase:
    """Random boxes with crowd regions, boundary areas, ties, empty images, >100 dets."""
    rng = np.random.default_rng(seed)
    keys = sorted(f"img-{rng.integers(0, 10_000):05d}-{i}" for i in range(n_images))
    images: list[dict[str, Any]] = [
        {"id": i + 1, "width": 640, "height": 480, "key": k} for i, k in enumerate(keys)
    ]
    categories = [{"id": c, "name": f"c{c}"} for c in CATEGORY_IDS]
    annotations: list[dict[str, Any]] = []
    detections: list[dict[str, Any]] = []
    gt_cats = CATEGORY_IDS[:-1]
    for image in images:
        n_gt = 0 if image["id"] % 7 == 0 else int(rng.integers(0, 9))
        for _ in range(n_gt):
            w, h = rng.uniform(4, 200, size=2)
            x, y = rng.uniform(0, 400, size=2)
            area = float(w * h * rng.uniform(0.5, 1.0))
            choice = rng.random()
            if choice < 0.08:
                area = 32.0**2
            elif choice < 0.16:
                area = 96.0**2
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image["id"],
                    "category_id": int(rng.choice(gt_cats)),
                    "bbox": [float(x), float(y), float(w), float(h)],
                    "area": area,
                    "iscrowd": int(rng.random() < 0.1),
                }
            )
        if image["id"] % 5 == 0:
            continue  # an image without predictions
        own = [a for a in annotations if a["image_id"] == image["id"]]
        n_dt = 130 if image["id"] % 11 == 1 else int(rng.integers(0, 25))
        for j in range(n_dt):
            if own and rng.random() < 0.7:
                src = own[int(rng.integers(0, len(own)))]
                x, y, w, h = (np.array(src["bbox"]) + rng.normal(0, 6, size=4)).tolist()
                w, h = max(w, 1.0), max(h, 1.0)
                cat = src["category_id"] if rng.random() < 0.85 else int(rng.choice(CATEGORY_IDS))
            else:
                w, h = rng.uniform(4, 200, size=2)
                x, y = rng.uniform(0, 400, size=2)
                cat = int(rng.choice(CATEGORY_IDS))
            if j % 13 == 5 and rng.random() < 0.5:
                w, h = 32.0, 32.0  # a prediction exactly on the small/medium boundary
            score = float(rng.random())
            if tied_scores:
                score = round(score, 1)
            if image["id"] % 11 == 1:
                cat = CATEGORY_IDS[0]  # > 100 predictions in one (image, category)
            detections.append(
                {
                    "image_id": image["id"],
                    "category_id": cat,
                    "bbox": [float(x), float(y), float(w), float(h)],
                    "score": score,
                }
            )
    dataset = {"images": images, "annotations": annotations, "categories": categories}
    return CocoCase(dataset=dataset, detections=detections, image_keys=keys)


def run_pycocotools(case: CocoCase, iou_type: str = "bbox", use_cats: bool = True) -> COCOeval:
    """evaluate + accumulate + summarize with pycocotools on the case."""
    return pycocotools_eval(case.dataset, case.detections, iou_type, use_cats=use_cats)


def case_stats(case: CocoCase, image_ids: list[int] | None = None) -> np.ndarray:
    """pycocotools' 12 bbox numbers for the case, or for some of its images."""
    return pycocotools_stats(case.dataset, case.detections, image_ids=image_ids)


TOL = 1e-12


def assert_same(ref: COCOeval, summary: CocoSummary) -> None:
    """Our summary equals pycocotools' stats, precision and recall arrays within ``TOL``."""
    np.testing.assert_allclose(summary.stats, ref.stats, rtol=0, atol=TOL)
    np.testing.assert_allclose(summary.precision, ref.eval["precision"], rtol=0, atol=TOL)
    np.testing.assert_allclose(summary.recall, ref.eval["recall"], rtol=0, atol=TOL)


def case_inputs(case: CocoCase) -> tuple[GroundTruth, Predictions, Any, int, int, list[Any]]:
    """The case as engine arrays, items keyed by the sorted string keys."""
    item_of_image = {img["id"]: case.image_keys.index(img["key"]) for img in case.dataset["images"]}
    cat_ids = sorted(c["id"] for c in case.dataset["categories"])
    label_of = {c: i for i, c in enumerate(cat_ids)}
    anns = case.dataset["annotations"]
    dts = case.detections
    gt_boxes = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
    dt_boxes = np.array([d["bbox"] for d in dts], dtype=np.float64).reshape(-1, 4)
    crowd = np.array([bool(a["iscrowd"]) for a in anns], dtype=bool)
    gt = GroundTruth.from_arrays(
        item=[item_of_image[a["image_id"]] for a in anns],
        label=[label_of[a["category_id"]] for a in anns],
        area=[a["area"] for a in anns],
        iscrowd=crowd,
        ignore=crowd,
    )
    dt = Predictions.from_arrays(
        item=[item_of_image[d["image_id"]] for d in dts],
        label=[label_of[d["category_id"]] for d in dts],
        score=[d["score"] for d in dts],
        area=box_areas(dt_boxes),
    )
    similarity = box_similarity(dt_boxes, gt_boxes)
    return gt, dt, similarity, len(case.image_keys), len(cat_ids), cat_ids


def run_engine(
    case: CocoCase, options: MatchOptions | None = None, item_mask: Any = None
) -> tuple[MatchTable, CocoSummary]:
    gt, dt, similarity, n_items, n_labels, _ = case_inputs(case)
    table = evaluate(gt, dt, similarity, n_items, n_labels, options)
    return table, coco_summary(table, item_mask)


def restrict(gt: GroundTruth, dt: Predictions, mask: np.ndarray) -> tuple[GroundTruth, Predictions]:
    """Objects of the selected items, items renumbered 0..k-1 in the same order."""
    new_index = np.cumsum(mask) - 1
    g, d = mask[gt.item], mask[dt.item]
    return (
        GroundTruth(
            item=new_index[gt.item[g]],
            label=gt.label[g],
            area=gt.area[g],
            iscrowd=gt.iscrowd[g],
            ignore=gt.ignore[g],
        ),
        Predictions(
            item=new_index[dt.item[d]], label=dt.label[d], score=dt.score[d], area=dt.area[d]
        ),
    )


def subset_case(case: CocoCase, keep_keys: set[str]) -> CocoCase:
    """The same case restricted to some images (all categories kept)."""
    keep_ids = {img["id"] for img in case.dataset["images"] if img["key"] in keep_keys}
    dataset = {
        "images": [i for i in case.dataset["images"] if i["id"] in keep_ids],
        "annotations": [a for a in case.dataset["annotations"] if a["image_id"] in keep_ids],
        "categories": case.dataset["categories"],
    }
    detections = [d for d in case.detections if d["image_id"] in keep_ids]
    keys = sorted(i["key"] for i in dataset["images"])
    return CocoCase(dataset=dataset, detections=detections, image_keys=keys)


#: Every matching protocol and class handling, for tests that must hold under each.
PROTOCOL_OPTIONS = [
    MatchOptions(),
    MatchOptions(matching=Matching.IOU_GREEDY),
    MatchOptions(matching=Matching.NO_FALLBACK),
    MatchOptions(class_agnostic=True),
    MatchOptions(allowed_label_matches=((0, 1), (2, 1))),
]
