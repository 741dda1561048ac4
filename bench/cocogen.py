"""Synthetic COCO ground truth and detections with COCO val2017's statistics.

Shared by the benchmark (5,000 and 50,000 images) and the parity tests (a few
dozen images). The point is realism where it changes the work an evaluator does:

- object sizes follow COCO's area split (about 41% small, 34% medium, 24% large)
  through a log-normal side length; about 1% of objects are crowd regions;
- ground truth carries polygon masks, a tight bbox and the mask's own ``area``
  field, as instances_val2017.json does; crowd regions are uncompressed RLE;
- a detector-like output: every object draws 1-3 jittered boxes (mostly of its
  own class) scored by their quality, plus background boxes, capped at 100 per
  image by score; scores are rounded to 3 decimals so ties across images occur;
- segm results are compressed RLE strings *and* a box from the "box head" (as
  detectron2 writes them), so the bbox-area rule of pycocotools' loadRes matters.

Shape variants of the same data (``bench/evaluate.py``): :func:`without_boxes` drops
the results' boxes (loadRes then takes area and box from each mask), and
:func:`rle_ground_truth` stores every ground-truth mask as a compressed RLE string
(the same pixels as its polygon, so the numbers do not change).

Everything is a pure function of ``seed``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# COCO's 80 category ids: 1..90 with ten gaps.
COCO_CATEGORY_IDS = [i for i in range(1, 91) if i not in {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}]
_SIDE_MU, _SIDE_SIGMA = 3.95, 1.176  # mask area split ~ COCO: 41% small, 34% medium
_SIZES = [(640, 480), (480, 640), (640, 427), (500, 375), (612, 612), (640, 360)]
NUM_KEYPOINTS = 17


def _polygon(rng: np.random.Generator, box: np.ndarray, jitter: float) -> np.ndarray:
    """A star-convex ellipse-like polygon inscribed in ``box`` (x, y, w, h): (n, 2)."""
    x, y, w, h = box
    n = int(rng.integers(8, 25))
    angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, n))
    radius = rng.uniform(1.0 - jitter, 1.0, n)
    px = x + w / 2.0 + np.cos(angles) * radius * w / 2.0
    py = y + h / 2.0 + np.sin(angles) * radius * h / 2.0
    return np.stack([px, py], axis=1)


def _shoelace(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def _boxes(rng: np.random.Generator, n: int, width: int, height: int) -> np.ndarray:
    """``n`` boxes (x, y, w, h) with COCO's size distribution inside the image."""
    side = np.exp(rng.normal(_SIDE_MU, _SIDE_SIGMA, n))
    aspect = np.exp(rng.normal(0.0, 0.5, n))
    w = np.clip(side * np.sqrt(aspect), 2.0, width)
    h = np.clip(side / np.sqrt(aspect), 2.0, height)
    x = rng.uniform(0.0, 1.0, n) * (width - w)
    y = rng.uniform(0.0, 1.0, n) * (height - h)
    return np.stack([x, y, w, h], axis=1)


def _crowd_rle(box: np.ndarray, width: int, height: int) -> dict[str, Any]:
    """Uncompressed column-major RLE of the integer rectangle ``box``."""
    x0, y0 = int(box[0]), int(box[1])
    x1 = min(width, max(x0 + 1, int(box[0] + box[2])))
    y1 = min(height, max(y0 + 1, int(box[1] + box[3])))
    counts = [x0 * height + y0]
    for _ in range(x0, x1 - 1):
        counts += [y1 - y0, height - (y1 - y0)]
    counts += [y1 - y0, (width - x1) * height + (height - y1)]
    return {"counts": counts, "size": [height, width]}


def _round(values: np.ndarray, digits: int = 2) -> list[Any]:
    return np.round(values, digits).tolist()  # type: ignore[no-any-return]


def make_ground_truth(
    n_images: int, seed: int, *, keypoints: bool = False, string_ids: bool = False
) -> dict[str, Any]:
    """A COCO ground-truth dict: ~7.3 objects per image (0 for some images)."""
    rng = np.random.default_rng(seed)
    cat_ids = [1] if keypoints else COCO_CATEGORY_IDS
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for i in range(n_images):
        width, height = _SIZES[int(rng.integers(len(_SIZES)))]
        image_id: int | str = f"img-{i:06d}" if string_ids else 100_000 + 7 * i
        images.append({"id": image_id, "width": width, "height": height})
        n = int(rng.poisson(7.3 if rng.uniform() > 0.02 else 0.0))
        boxes = _boxes(rng, n, width, height)
        for box in boxes:
            crowd = rng.uniform() < 0.01
            ann: dict[str, Any] = {
                "id": len(anns) + 1,
                "image_id": image_id,
                "category_id": int(rng.choice(cat_ids)),
                "iscrowd": int(crowd),
            }
            if crowd:
                rle = _crowd_rle(box, width, height)
                x0, y0 = int(box[0]), int(box[1])
                w = min(width, max(x0 + 1, int(box[0] + box[2]))) - x0
                h = min(height, max(y0 + 1, int(box[1] + box[3]))) - y0
                ann.update(segmentation=rle, bbox=[x0, y0, w, h], area=float(w * h))
            else:
                poly = _polygon(rng, box, 0.2)
                lo, hi = poly.min(axis=0), poly.max(axis=0)
                ann.update(
                    segmentation=[_round(poly.ravel())],
                    bbox=_round(np.concatenate([lo, hi - lo])),
                    area=round(_shoelace(poly), 2),
                )
            if keypoints:
                _add_gt_keypoints(rng, ann, box)
            anns.append(ann)
    categories = [{"id": c, "name": f"class{c}", "supercategory": "thing"} for c in cat_ids]
    return {"images": images, "annotations": anns, "categories": categories}


def _add_gt_keypoints(rng: np.random.Generator, ann: dict[str, Any], box: np.ndarray) -> None:
    x, y, w, h = box
    vis = rng.choice([0, 1, 2], NUM_KEYPOINTS, p=[0.3, 0.2, 0.5])
    if rng.uniform() < 0.15:
        vis[:] = 0
    kx = x + rng.uniform(0, 1, NUM_KEYPOINTS) * w
    ky = y + rng.uniform(0, 1, NUM_KEYPOINTS) * h
    kps = np.stack([np.where(vis > 0, kx, 0), np.where(vis > 0, ky, 0), vis], axis=1)
    ann["keypoints"] = _round(kps.ravel())
    ann["num_keypoints"] = int(np.count_nonzero(vis))


def make_detections(
    gt: dict[str, Any], seed: int, *, kind: str = "bbox", max_per_image: int = 100
) -> list[dict[str, Any]]:
    """Detector-like results for ``gt``; ``kind`` is bbox, segm or keypoints."""
    rng = np.random.default_rng(seed)
    by_image: dict[Any, list[dict[str, Any]]] = {img["id"]: [] for img in gt["images"]}
    for ann in gt["annotations"]:
        by_image[ann["image_id"]].append(ann)
    cat_ids = [c["id"] for c in gt["categories"]]
    segm_encoder = _segm_encoder() if kind == "segm" else None
    out: list[dict[str, Any]] = []
    for img in gt["images"]:
        width, height = img["width"], img["height"]
        objects = by_image[img["id"]]
        boxes: list[Any] = []
        cats: list[int] = []
        scores: list[float] = []
        sources: list[dict[str, Any] | None] = []
        for ann in objects:
            for _ in range(int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))):
                bx, by, bw, bh = ann["bbox"]
                quality = float(rng.uniform(0.02, 0.2))
                nw = bw * math.exp(rng.normal(0.0, quality))
                nh = bh * math.exp(rng.normal(0.0, quality))
                nx = bx + bw / 2 + rng.normal(0.0, quality) * bw - nw / 2
                ny = by + bh / 2 + rng.normal(0.0, quality) * bh - nh / 2
                boxes.append([nx, ny, nw, nh])
                same = rng.uniform() < 0.9
                cats.append(ann["category_id"] if same else int(rng.choice(cat_ids)))
                scores.append(float(rng.beta(5, 2)) * (1.0 - quality))
                sources.append(ann)
        n_background = (
            int(rng.integers(30, 100)) if kind != "keypoints" else int(rng.integers(0, 4))
        )
        for box in _boxes(rng, n_background, width, height):
            boxes.append(box.tolist())
            cats.append(int(rng.choice(cat_ids)))
            scores.append(float(rng.beta(1, 4)))
            sources.append(None)
        order = np.argsort(-np.asarray(scores), kind="stable")[:max_per_image]
        for k in order.tolist():
            det: dict[str, Any] = {
                "image_id": img["id"],
                "category_id": cats[k],
                "score": round(scores[k], 3),
            }
            box = np.asarray(boxes[k])
            if kind == "keypoints":
                det["keypoints"] = _det_keypoints(rng, sources[k], box)
            else:
                det["bbox"] = _round(box)
            if segm_encoder is not None:
                poly = _polygon(rng, box, 0.15)
                det["segmentation"] = segm_encoder(poly, height, width)
            out.append(det)
    return out


def _det_keypoints(
    rng: np.random.Generator, source: dict[str, Any] | None, box: np.ndarray
) -> list[Any]:
    if source is not None and "keypoints" in source:
        g = np.asarray(source["keypoints"], dtype=np.float64).reshape(-1, 3)
        spread = max(2.0, math.sqrt(max(source["area"], 1.0)) * 0.08)
        kx = np.where(g[:, 2] > 0, g[:, 0], box[0] + box[2] / 2) + rng.normal(0, spread, len(g))
        ky = np.where(g[:, 2] > 0, g[:, 1], box[1] + box[3] / 2) + rng.normal(0, spread, len(g))
    else:
        kx = box[0] + rng.uniform(0, 1, NUM_KEYPOINTS) * box[2]
        ky = box[1] + rng.uniform(0, 1, NUM_KEYPOINTS) * box[3]
    kps = np.stack([kx, ky, np.ones_like(kx)], axis=1)
    return _round(kps.ravel())


def _segm_encoder() -> Any:
    """Polygon -> compressed RLE dict with a str counts, via pycocotools (bench/test only)."""
    from pycocotools import mask as mask_utils

    def encode(poly: np.ndarray, height: int, width: int) -> dict[str, Any]:
        rle = mask_utils.frPyObjects([poly.ravel().tolist()], height, width)[0]
        return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}

    return encode


def without_boxes(dets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The detections without their ``bbox`` (segm results as some tools write them)."""
    return [{k: v for k, v in d.items() if k != "bbox"} for d in dets]


def rle_ground_truth(gt: dict[str, Any]) -> dict[str, Any]:
    """``gt`` with every polygon segmentation as the compressed RLE of its pixels
    (``frPyObjects`` + ``merge``, as pycocotools reads the polygon), via pycocotools."""
    from pycocotools import mask as mask_utils

    sizes = {img["id"]: (img["height"], img["width"]) for img in gt["images"]}
    anns = []
    for ann in gt["annotations"]:
        seg = ann["segmentation"]
        if type(seg) is list:
            height, width = sizes[ann["image_id"]]
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
            seg = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        anns.append({**ann, "segmentation": seg})
    return {**gt, "annotations": anns}
