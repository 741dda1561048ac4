"""Speed of the RLE kernels against pycocotools.mask on a COCO-sized workload.

Run ``python bench/rle_kernels.py``.
5,000 images of 480x640, 7 ground-truth and 20 predicted polygon masks each;
prints each side's CPU time (process_time: steadier than wall time on a shared machine) and the ratio ours / pycocotools for rasterising the
polygons (frPyObjects + merge, as COCO.annToRLE) and for IoU of all pairs per
image (maskUtils.iou per image, as COCOeval.computeIoU does).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import pycocotools.mask as coco_mask

from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.rle_iou import rle_similarity
from sliceboard.evaluation.geometry.rle_polygon import rle_from_polygons

H, W = 480, 640


def _blob(rng: np.random.Generator, cx: float, cy: float, r: float) -> list[float]:
    k = int(rng.integers(12, 40))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    radius = r * rng.uniform(0.6, 1.0, k)
    pts = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1)
    return [float(v) for v in np.clip(pts, 0, [W, H]).ravel()]


def _images(n: int, seed: int = 0) -> list[tuple[list[list[list[float]]], list[list[list[float]]]]]:
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        centres = rng.uniform([0, 0], [W, H], (7, 2))
        radii = rng.uniform(8, 120, 7)
        gts = [[_blob(rng, cx, cy, r)] for (cx, cy), r in zip(centres, radii, strict=True)]
        dts = []
        for j in range(20):
            i = j % 7
            if j < 14:
                (cx, cy), r = centres[i] + rng.normal(0, 6, 2), radii[i] * rng.uniform(0.8, 1.2)
            else:
                (cx, cy), r = rng.uniform([0, 0], [W, H]), rng.uniform(8, 120)
            dts.append([_blob(rng, cx, cy, r)])
        images.append((gts, dts))
    return images


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main(n_images: int = 5000, repeats: int = 3) -> None:
    images = _images(n_images)
    gt_objs = [o for g, _ in images for o in g]
    dt_objs = [o for _, d in images for o in d]
    ref_gt = [coco_mask.merge(coco_mask.frPyObjects(o, H, W)) for o in gt_objs]
    ref_dt = [coco_mask.merge(coco_mask.frPyObjects(o, H, W)) for o in dt_objs]
    gt = rle_from_polygons(gt_objs, H, W)
    dt = rle_from_polygons(dt_objs, H, W)
    assert gt.to_strings() == [r["counts"].decode() for r in ref_gt]
    assert dt.to_strings() == [r["counts"].decode() for r in ref_dt]
    d, g = np.meshgrid(np.arange(20), np.arange(7), indexing="ij")
    img = np.repeat(np.arange(n_images), 140)
    d_idx = np.tile(d.ravel(), n_images) + img * 20
    g_idx = np.tile(g.ravel(), n_images) + img * 7
    crowd = np.zeros(d_idx.shape[0], bool)
    ref_iou = np.concatenate(
        [
            np.asarray(
                coco_mask.iou(ref_dt[i * 20 : i * 20 + 20], ref_gt[i * 7 : i * 7 + 7], [0] * 7)
            ).reshape(-1)
            for i in range(n_images)
        ]
    )
    ours = rle_similarity(dt, gt)(d_idx, g_idx, crowd)
    assert np.array_equal(ours, ref_iou)
    strings = [r["counts"] for r in ref_dt]
    sizes = [(H, W)] * len(strings)

    def ref_poly() -> None:
        for o in dt_objs:
            coco_mask.merge(coco_mask.frPyObjects(o, H, W))

    def ref_pairs() -> None:
        for i in range(n_images):
            coco_mask.iou(ref_dt[i * 20 : i * 20 + 20], ref_gt[i * 7 : i * 7 + 7], [0] * 7)

    def our_pairs() -> None:  # fresh batches: nothing cached from earlier calls
        fresh_dt = RleBatch(dt.counts, dt.offsets, dt.heights, dt.widths)
        fresh_gt = RleBatch(gt.counts, gt.offsets, gt.heights, gt.widths)
        rle_similarity(fresh_dt, fresh_gt)(d_idx, g_idx, crowd)

    def ref_parse() -> None:  # pycocotools parses the strings inside every call
        for i in range(0, len(ref_dt), 200):
            coco_mask.area(ref_dt[i : i + 200])

    built = rle_similarity(dt, gt)

    cases = [
        ("polygons -> RLE (frPyObjects+merge)", ref_poly, lambda: rle_from_polygons(dt_objs, H, W)),
        ("IoU, all pairs (mask.iou per image)", ref_pairs, our_pairs),
        ("  second call on the same kernel", ref_pairs, lambda: built(d_idx, g_idx, crowd)),
        (
            "parse compressed strings (mask.area)",
            ref_parse,
            lambda: RleBatch.from_strings(strings, sizes),
        ),
    ]
    print(
        f"{n_images} images {H}x{W}, {len(gt_objs)} gt + {len(dt_objs)} dt masks, "
        f"{d_idx.shape[0]} pairs ({int((ours > 0).sum())} overlapping); best of {repeats}"
    )
    for name, ref, our in cases:
        t_ref, t_our = _best(ref, repeats), _best(our, repeats)
        print(
            f"{name:38s} pycocotools {t_ref:6.3f}s  ours {t_our:6.3f}s  ours/ref {t_our / t_ref:5.2f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
