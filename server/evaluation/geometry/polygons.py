"""Area IoU of polygons (with holes) and rotated boxes, on shapely 2 geometry arrays.

Every pair's intersection area comes from one vectorised ``shapely.intersection``
over all candidate pairs (pairs whose bounding boxes are disjoint are 0 without
any geometry work); the union is ``area_dt + area_gt - intersection``, and with
``gt_crowd`` the denominator is the prediction's area, as for COCO boxes.

Repair rule, applied once when a batch is built, so the kernel never fails:
a ring with fewer than 3 vertices or non-finite coordinates gives an empty
polygon; an invalid polygon (self-intersection, bow-tie, hole outside its shell,
repeated points) is replaced by ``shapely.make_valid`` (GEOS's "linework"
method: the rings are noded and every enclosed face becomes part of the
result), keeping only its polygonal parts; lines and points left over by the
repair have no area and are dropped. The same input always gives the same
geometry.

Rotated boxes are ``(x, y, width, height, rotation)``: (x, y) is the top-left
corner of the box before rotation, so the centre is (x + w/2, y + h/2), and the
box turns about that centre by ``rotation`` radians from +x toward +y, i.e.
clockwise on screen in image coordinates where y points down.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from sliceboard.evaluation.geometry.kernel import (
    BoolArray,
    FloatArray,
    IndexArray,
    Similarity,
    check_pairs,
)

GeometryArray = NDArray[np.object_]
_EMPTY = shapely.Polygon()
_POLYGONAL = (shapely.Polygon, shapely.MultiPolygon)


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a repaired geometry (lines and points have no area)."""
    if isinstance(geometry, _POLYGONAL):
        return geometry
    if isinstance(geometry, shapely.GeometryCollection):
        polys = [p for p in shapely.get_parts(geometry) if isinstance(p, _POLYGONAL)]
        if polys:
            return shapely.union_all(polys)
    return _EMPTY


def repair(geometries: ArrayLike) -> GeometryArray:
    """Applies the module's repair rule to a geometry array (n,); returns a new array (n,)."""
    geoms = np.array(geometries, dtype=object).reshape(-1)
    out = geoms.copy()
    missing = shapely.is_missing(geoms)
    out[missing] = _EMPTY
    present = np.flatnonzero(~missing)
    invalid = present[~shapely.is_valid(geoms[present])]
    if invalid.size:
        fixed = shapely.make_valid(geoms[invalid])
        out[invalid] = [_polygonal_part(g) for g in fixed]
    return out


def polygon_is_valid(vertices: ArrayLike, holes: Sequence[ArrayLike] = ()) -> bool:
    """Whether a polygon (k, 2) with holes is valid as given, i.e. needs no repair."""
    geoms = make_polygons([vertices], [list(holes)], repair_invalid=False)
    return bool(shapely.is_valid(geoms[0])) and not shapely.is_empty(geoms[0])


def make_polygons(
    exteriors: Sequence[ArrayLike],
    holes: Sequence[Sequence[ArrayLike]] | None = None,
    *,
    repair_invalid: bool = True,
) -> GeometryArray:
    """Builds n polygons from vertex arrays, repaired by the module's rule.

    Args:
        exteriors: n arrays (k_i, 2) of x, y; the ring closes itself.
        holes: optional n lists of hole rings (m, 2).
        repair_invalid: apply the repair rule (off only to inspect raw validity).

    Returns:
        object (n,) of shapely Polygon / MultiPolygon.
    """
    n = len(exteriors)
    hole_lists: Sequence[Sequence[ArrayLike]] = holes if holes is not None else [()] * n
    if len(hole_lists) != n:
        raise ValueError(f"got holes for {len(hole_lists)} polygons, expected {n}")
    coords: list[NDArray[np.float64]] = []
    ring_owner: list[int] = []
    usable = np.zeros(n, dtype=bool)
    for i in range(n):
        rings = [np.asarray(exteriors[i], dtype=np.float64).reshape(-1, 2)]
        rings += [np.asarray(h, dtype=np.float64).reshape(-1, 2) for h in hole_lists[i]]
        if rings[0].shape[0] < 3 or not np.isfinite(rings[0]).all():
            continue
        usable[i] = True
        for r in rings:
            if r.shape[0] >= 3 and np.isfinite(r).all():
                coords.append(r)
                ring_owner.append(i)
    out = np.full(n, _EMPTY, dtype=object)
    if coords:
        lengths = [c.shape[0] for c in coords]
        ring_ids = np.repeat(np.arange(len(coords)), lengths)
        rings_arr = shapely.linearrings(np.concatenate(coords), indices=ring_ids)
        owners = np.asarray(ring_owner)
        # shapely needs consecutive target indices: build into the usable slots
        compact = np.cumsum(usable) - 1
        built = shapely.polygons(rings_arr, indices=compact[owners])
        out[usable] = built
    return repair(out) if repair_invalid else out


def rotated_box_polygons(boxes: ArrayLike) -> GeometryArray:
    """Rotated boxes float64 (n, 5) ``[x, y, w, h, rotation]`` as polygons (n,).

    Non-finite values or a negative side give an empty polygon.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
    x, y, w, h, theta = b.T
    cx, cy = x + w / 2, y + h / 2
    corner_x = np.stack([-w, w, w, -w], axis=1) / 2
    corner_y = np.stack([-h, -h, h, h], axis=1) / 2
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    px = cx[:, None] + corner_x * cos - corner_y * sin
    py = cy[:, None] + corner_x * sin + corner_y * cos
    ok = np.isfinite(b).all(axis=1) & (w >= 0) & (h >= 0)
    out = np.full(b.shape[0], _EMPTY, dtype=object)
    if ok.any():
        out[ok] = shapely.polygons(np.stack([px[ok], py[ok]], axis=2))
    return repair(out)


def intersection_areas(a: GeometryArray, b: GeometryArray) -> FloatArray:
    """Area of ``a[i] ∩ b[i]`` for aligned geometry arrays (P,); float64 (P,).

    A pair GEOS cannot overlay exactly (a robustness failure on nearly
    coincident edges) is retried on a 1e-9 grid, then scored 0.
    """
    try:
        return np.asarray(shapely.area(shapely.intersection(a, b)), dtype=np.float64)
    except shapely.errors.GEOSException:
        out = np.zeros(a.shape[0], dtype=np.float64)
        for i in range(a.shape[0]):
            try:
                out[i] = shapely.area(shapely.intersection(a[i], b[i]))
            except shapely.errors.GEOSException:
                try:
                    out[i] = shapely.area(shapely.intersection(a[i], b[i], grid_size=1e-9))
                except shapely.errors.GEOSException:
                    out[i] = 0.0
        return out


def area_iou(
    inter: FloatArray, area_dt: FloatArray, area_gt: FloatArray, crowd: BoolArray
) -> FloatArray:
    """IoU from intersection and areas (P,), crowd pairs over the prediction's area."""
    union = np.where(crowd, area_dt, area_dt + area_gt - inter)
    out = np.zeros(inter.shape[0], dtype=np.float64)
    ok = (inter > 0) & (union > 0)
    out[ok] = np.minimum(inter[ok] / union[ok], 1.0)
    return out


def geometry_similarity(dt: GeometryArray, gt: GeometryArray) -> Similarity:
    """Area-IoU kernel over already repaired geometry arrays dt (D,) and gt (G,)."""
    area_dt, area_gt = shapely.area(dt), shapely.area(gt)
    bounds_dt, bounds_gt = shapely.bounds(dt), shapely.bounds(gt)

    def kernel(dt_index: IndexArray, gt_index: IndexArray, gt_crowd: BoolArray) -> FloatArray:
        d, g, crowd = check_pairs(dt_index, gt_index, gt_crowd, len(dt), len(gt))
        bd, bg = bounds_dt[d], bounds_gt[g]
        touch = (
            (area_dt[d] > 0)
            & (area_gt[g] > 0)
            & (np.maximum(bd[:, 0], bg[:, 0]) < np.minimum(bd[:, 2], bg[:, 2]))
            & (np.maximum(bd[:, 1], bg[:, 1]) < np.minimum(bd[:, 3], bg[:, 3]))
        )
        inter = np.zeros(d.shape[0], dtype=np.float64)
        cand = np.flatnonzero(touch)
        if cand.size:
            inter[cand] = intersection_areas(dt[d[cand]], gt[g[cand]])
        return area_iou(inter, area_dt[d], area_gt[g], crowd)

    return kernel


def polygon_similarity(
    dt: Sequence[ArrayLike],
    gt: Sequence[ArrayLike],
    dt_holes: Sequence[Sequence[ArrayLike]] | None = None,
    gt_holes: Sequence[Sequence[ArrayLike]] | None = None,
) -> Similarity:
    """Area-IoU kernel for polygons given as vertex arrays (k_i, 2), with optional holes."""
    return geometry_similarity(make_polygons(dt, dt_holes), make_polygons(gt, gt_holes))


def rotated_box_similarity(dt_boxes: ArrayLike, gt_boxes: ArrayLike) -> Similarity:
    """Area-IoU kernel for rotated boxes float64 (D, 5) and (G, 5) ``[x, y, w, h, rotation]``."""
    return geometry_similarity(rotated_box_polygons(dt_boxes), rotated_box_polygons(gt_boxes))
