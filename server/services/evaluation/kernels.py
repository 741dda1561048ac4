"""Similarity kernels and areas of a run's objects, one builder per geometry family:

    box        axis-aligned boxes                  box IoU (crowd: over the prediction)
    polygon    polygons and rotated boxes          area IoU of shapely polygons (repaired)
    mask       instance masks (RLE or polygons)    mask IoU on run lengths
    keypoint   keypoint sets                       COCO's OKS (17 keypoints: COCO's sigmas,
                                                   other layouts: 0.05 for every keypoint)
    cuboid     3D cuboids                          3D IoU (bird's-eye overlap x height overlap)
    polyline   open lines                          IoU of the lines drawn 2 px wide
    category   labels without geometry             every pair in an item has similarity 1,
                                                   so matching reduces to label agreement

Keypoint ground truth has no box of its own here: the extent of its labelled keypoints
stands in for COCO's ``bbox`` (used when a ground truth has no labelled keypoint) and, when
no ``area`` was given, for its area. Which builder a run uses is the geometry family
registry's choice (``sliceboard.services.validation.families``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely

from sliceboard.evaluation import Similarity, box_similarity
from sliceboard.evaluation.geometry.cuboids import CuboidBatch, cuboid_similarity
from sliceboard.evaluation.geometry.kernel import check_pairs
from sliceboard.evaluation.geometry.keypoints import (
    COCO_KEYPOINT_SIGMAS,
    KeypointBatch,
    oks_similarity,
)
from sliceboard.evaluation.geometry.polygons import (
    geometry_similarity,
    make_polygons,
    rotated_box_polygons,
)
from sliceboard.evaluation.geometry.polylines import polyline_similarity
from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.rle_iou import rle_similarity
from sliceboard.evaluation.geometry.rle_polygon import rle_from_polygons
from sliceboard.storage.evaluation_data import ObjectRows

ItemSizes = dict[int, tuple[int | None, int | None]]  # item id -> (height, width)


class UnsupportedRun(ValueError):
    """The run's objects cannot be evaluated together; the message says why, for the user."""


@dataclass(frozen=True)
class Kernel:
    """What the engine needs of a run's geometry: pair similarity and each object's own area
    (used when the row gives none)."""

    similarity: Similarity
    gt_area: np.ndarray  # float64 (G,)
    dt_area: np.ndarray  # float64 (P,)
    gt_ignore: np.ndarray | None = None  # bool (G,): ground truth the protocol ignores


#: Builds the kernel of a run whose objects all belong to one family.
KernelBuilder = Callable[[ObjectRows, ObjectRows, ItemSizes], Kernel]


def unrotated(rows: ObjectRows) -> bool:
    """Whether no box of ``rows`` is rotated (the box kernel compares axis-aligned boxes)."""
    return not _rotated(rows)


def _rotated(rows: ObjectRows) -> bool:
    if rows.boxes is not None:
        return bool(np.any(rows.boxes[:, 4] != 0))
    return any(
        (g or {}).get("rotation")
        for g, t in zip(rows.geometries, rows.types, strict=True)
        if t == "BOX"
    )


def _boxes(rows: ObjectRows) -> np.ndarray:
    """float64 (n, 5) [x, y, width, height, rotation] of rows that are all boxes."""
    if rows.boxes is not None:
        return rows.boxes
    if not rows.geometries:
        return np.zeros((0, 5), dtype=np.float64)
    return np.array(
        [
            (g["x"], g["y"], g["width"], g["height"], g.get("rotation") or 0.0)
            for g in rows.geometries
        ],
        dtype=np.float64,
    )


def _masks(
    rows: ObjectRows, sizes: dict[int, tuple[int | None, int | None]], side: str
) -> RleBatch:
    """One RLE per object: stored compressed strings as they are, polygons rasterised as
    pycocotools' ``frPyObjects`` + ``merge`` (holes are not subtracted: COCO polygons have none)."""
    n = len(rows)
    strings: list[str] = []
    string_sizes: list[tuple[int, int]] = []
    string_at: list[int] = []
    polygons: list[list[list[float]]] = []
    polygon_sizes: list[tuple[int, int]] = []
    polygon_at: list[int] = []
    for position, (item_id, geometry) in enumerate(
        zip(rows.item_ids, rows.geometries, strict=True)
    ):
        rle = geometry.get("rle") if geometry else None
        if rle is not None:
            strings.append(rle["counts"])
            string_sizes.append((int(rle["size"][0]), int(rle["size"][1])))
            string_at.append(position)
            continue
        height, width = sizes.get(item_id, (None, None))
        if not height or not width:
            raise UnsupportedRun(
                f"{side} {rows.ids[position]}: polygon masks need the item's width and height"
            )
        polygons.append(
            [[c for vertex in part["vertices"] for c in vertex] for part in geometry["polygons"]]
        )
        polygon_sizes.append((height, width))
        polygon_at.append(position)
    batches: list[tuple[list[int], RleBatch]] = []
    if strings:
        batches.append((string_at, RleBatch.from_strings(strings, string_sizes)))
    if polygons:
        heights = np.array([s[0] for s in polygon_sizes], dtype=np.int64)
        widths = np.array([s[1] for s in polygon_sizes], dtype=np.int64)
        batches.append((polygon_at, rle_from_polygons(polygons, heights, widths)))
    return _in_order(n, batches)


def _in_order(n: int, batches: list[tuple[list[int], RleBatch]]) -> RleBatch:
    """Concatenates batches and puts mask ``k`` of a batch back at its row position."""
    if len(batches) == 1 and batches[0][0] == list(range(n)):
        return batches[0][1]
    slots: list[tuple[int, np.ndarray, int, int]] = [(0, np.zeros(0, np.int64), 0, 0)] * n
    for positions, batch in batches:
        for k, position in enumerate(positions):
            runs = batch.counts[batch.offsets[k] : batch.offsets[k + 1]].astype(np.int64)
            slots[position] = (position, runs, int(batch.heights[k]), int(batch.widths[k]))
    lengths = np.array([s[1].shape[0] for s in slots], dtype=np.int64)
    counts = np.concatenate([s[1] for s in slots]) if n else np.zeros(0, np.int64)
    sizes = np.array([(s[2], s[3]) for s in slots], dtype=np.int64).reshape(-1, 2)
    return RleBatch.from_run_lengths(counts, np.r_[0, np.cumsum(lengths)], sizes, validate=False)


def _polygons(rows: ObjectRows) -> np.ndarray:
    """Shapely polygons of boxes (rotation about the centre) and polygons (with holes)."""
    out = np.empty(len(rows), dtype=object)
    types = rows.types
    box_at = [k for k, t in enumerate(types) if t == "BOX"]
    polygon_at = [k for k, t in enumerate(types) if t == "POLYGON"]
    if box_at:
        if rows.boxes is not None:
            out[box_at] = rotated_box_polygons(rows.boxes[box_at])
        else:
            boxes = [rows.geometries[k] for k in box_at]
            out[box_at] = rotated_box_polygons(
                [(g["x"], g["y"], g["width"], g["height"], g.get("rotation") or 0.0) for g in boxes]
            )
    if polygon_at:
        geometries = [rows.geometries[k] for k in polygon_at]
        out[polygon_at] = make_polygons(
            [g["vertices"] for g in geometries], [g.get("holes") or [] for g in geometries]
        )
    return out


def _keypoints(rows: ObjectRows) -> KeypointBatch:
    return KeypointBatch.from_coco(
        [[c for point in g["points"] for c in point] for g in rows.geometries]
    )


def _keypoint_sigmas(batch: KeypointBatch) -> np.ndarray:
    sizes = np.diff(batch.offsets)
    return np.concatenate(
        [
            COCO_KEYPOINT_SIGMAS if n == COCO_KEYPOINT_SIGMAS.shape[0] else np.full(n, 0.05)
            for n in sizes
        ]
        or [np.zeros(0)]
    )


def _keypoint_boxes(batch: KeypointBatch) -> np.ndarray:
    """Extent [x, y, w, h] of each set's labelled keypoints (zeros when none is labelled)."""
    out = np.zeros((len(batch.offsets) - 1, 4), dtype=np.float64)
    for k in range(out.shape[0]):
        lo, hi = batch.offsets[k], batch.offsets[k + 1]
        seen = batch.visibility[lo:hi] > 0
        if seen.any():
            xs, ys = batch.x[lo:hi][seen], batch.y[lo:hi][seen]
            out[k] = (xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min())
    return out


def _cuboids(rows: ObjectRows) -> CuboidBatch:
    return CuboidBatch.from_arrays(
        [g["position"] for g in rows.geometries] or np.zeros((0, 3)),
        [g["dimensions"] for g in rows.geometries] or np.zeros((0, 3)),
        [g["yaw"] for g in rows.geometries],
    )


def _same_item(n_dt: int, n_gt: int) -> Similarity:
    """Category labels: any prediction fully 'overlaps' any ground truth of its item."""

    def similarity(dt_index: np.ndarray, gt_index: np.ndarray, gt_crowd: np.ndarray) -> np.ndarray:
        d, _, _ = check_pairs(dt_index, gt_index, gt_crowd, n_dt, n_gt)
        return np.ones(d.shape[0], dtype=np.float64)

    return similarity


def own_or(rows: ObjectRows, fallback: np.ndarray) -> np.ndarray:
    """The rows' given areas, ``fallback`` (their own geometry's) where none was given."""
    return np.where(np.isnan(rows.areas), fallback, rows.areas) if len(rows) else fallback


def box_kernel(gt: ObjectRows, dt: ObjectRows, sizes: ItemSizes) -> Kernel:
    gt_boxes, dt_boxes = _boxes(gt)[:, :4], _boxes(dt)[:, :4]
    return Kernel(
        box_similarity(dt_boxes, gt_boxes),
        gt_boxes[:, 2] * gt_boxes[:, 3],
        dt_boxes[:, 2] * dt_boxes[:, 3],
    )


def polygon_kernel(gt: ObjectRows, dt: ObjectRows, sizes: ItemSizes) -> Kernel:
    gt_shapes, dt_shapes = _polygons(gt), _polygons(dt)
    return Kernel(
        geometry_similarity(dt_shapes, gt_shapes),
        np.asarray(shapely.area(gt_shapes), dtype=np.float64),
        np.asarray(shapely.area(dt_shapes), dtype=np.float64),
    )


def mask_kernel(gt: ObjectRows, dt: ObjectRows, sizes: ItemSizes) -> Kernel:
    gt_masks = _masks(gt, sizes, "annotation")
    dt_masks = _masks(dt, sizes, "prediction")
    return Kernel(
        rle_similarity(dt_masks, gt_masks),
        gt_masks.area().astype(np.float64),
        dt_masks.area().astype(np.float64),
    )


def keypoint_kernel(gt: ObjectRows, dt: ObjectRows, sizes: ItemSizes) -> Kernel:
    gt_points, dt_points = _keypoints(gt), _keypoints(dt)
    gt_boxes = _keypoint_boxes(gt_points)
    gt_own_area = gt_boxes[:, 2] * gt_boxes[:, 3]
    dt_boxes = _keypoint_boxes(dt_points)
    similarity = oks_similarity(
        dt_points, gt_points, own_or(gt, gt_own_area), gt_boxes, _keypoint_sigmas(gt_points)
    )
    # COCO ignores ground truth without labelled keypoints.
    return Kernel(
        similarity,
        gt_own_area,
        dt_boxes[:, 2] * dt_boxes[:, 3],
        gt_ignore=gt_points.labelled_count() == 0,
    )


def cuboid_kernel(gt: ObjectRows, dt: ObjectRows, sizes: ItemSizes) -> Kernel:
    gt_cuboids, dt_cuboids = _cuboids(gt), _cuboids(dt)
    return Kernel(
        cuboid_similarity(dt_cuboids, gt_cuboids),
        gt_cuboids.dimensions[:, 0] * gt_cuboids.dimensions[:, 1],
        dt_cuboids.dimensions[:, 0] * dt_cuboids.dimensions[:, 1],
    )


def polyline_kernel(gt: ObjectRows, dt: ObjectRows, sizes: ItemSizes) -> Kernel:
    gt_lines = [np.asarray(g["vertices"], dtype=np.float64) for g in gt.geometries]
    dt_lines = [np.asarray(g["vertices"], dtype=np.float64) for g in dt.geometries]
    return Kernel(
        polyline_similarity(dt_lines, gt_lines),
        np.zeros(len(gt), dtype=np.float64),
        np.zeros(len(dt), dtype=np.float64),
    )


def category_kernel(gt: ObjectRows, dt: ObjectRows, sizes: ItemSizes) -> Kernel:
    return Kernel(
        _same_item(len(dt), len(gt)),
        np.zeros(len(gt), dtype=np.float64),
        np.zeros(len(dt), dtype=np.float64),
    )


def semantic_kernel(gt: ObjectRows, dt: ObjectRows, sizes: ItemSizes) -> Kernel:
    """Semantic masks have no pairwise similarity: the evaluation loads them apart from the
    instance rows (``semantic_inputs``) and measures pixels and segments instead."""
    raise UnsupportedRun("semantic masks are evaluated by their pixel and segment metrics")
