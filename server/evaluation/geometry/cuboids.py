"""3D and bird's-eye-view IoU of yaw-rotated cuboids.

A cuboid is its centre (x, y, z), its size (dx, dy, dz) along its own axes and
a yaw about +z (radians, from +x toward +y). Its bird's-eye-view footprint is
the dx x dy rectangle turned by yaw about (x, y); its height range is
z ± dz/2. Then

    3D intersection = footprint intersection area x height overlap
    3D IoU          = intersection / (volume_dt + volume_gt - intersection)
    BEV IoU         = footprint intersection / footprint union

with footprint intersections from shapely (``polygons.intersection_areas``).
Pitch and roll are not modelled (the usual assumption for driving datasets).
With ``gt_crowd`` the denominator is the prediction's own volume (or area).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sliceboard.evaluation.geometry.kernel import (
    BoolArray,
    FloatArray,
    IndexArray,
    Similarity,
    check_pairs,
)
from sliceboard.evaluation.geometry.polygons import (
    GeometryArray,
    area_iou,
    intersection_areas,
    rotated_box_polygons,
)


@dataclass(frozen=True, eq=False)
class CuboidBatch:
    """n cuboids: position float64 (n, 3) centre, dimensions float64 (n, 3), yaw float64 (n,)."""

    position: NDArray[np.float64]
    dimensions: NDArray[np.float64]
    yaw: NDArray[np.float64]

    @classmethod
    def from_arrays(cls, position: ArrayLike, dimensions: ArrayLike, yaw: ArrayLike) -> CuboidBatch:
        """Raises ValueError on mismatched shapes, non-finite values or a negative dimension."""
        p = np.asarray(position, dtype=np.float64).reshape(-1, 3)
        d = np.asarray(dimensions, dtype=np.float64).reshape(-1, 3)
        y = np.asarray(yaw, dtype=np.float64).reshape(-1)
        if not (p.shape[0] == d.shape[0] == y.shape[0]):
            raise ValueError("position, dimensions and yaw need one row per cuboid")
        bad = ~(np.isfinite(p).all(1) & np.isfinite(d).all(1) & np.isfinite(y)) | (d < 0).any(1)
        if bad.any():
            raise ValueError(
                f"cuboid {int(np.argmax(bad))}: values must be finite, dimensions >= 0"
            )
        return cls(p, d, y)

    def __len__(self) -> int:
        return int(self.yaw.shape[0])

    def footprints(self) -> GeometryArray:
        """Bird's-eye-view rectangles as shapely polygons (n,)."""
        x, y = self.position[:, 0], self.position[:, 1]
        dx, dy = self.dimensions[:, 0], self.dimensions[:, 1]
        return rotated_box_polygons(np.stack([x - dx / 2, y - dy / 2, dx, dy, self.yaw], axis=1))


def cuboid_similarity(
    dt: CuboidBatch, gt: CuboidBatch, mode: Literal["3d", "bev"] = "3d"
) -> Similarity:
    """Builds the cuboid IoU kernel over dt (D,) and gt (G,); ``mode`` picks 3D or BEV IoU."""
    if mode not in ("3d", "bev"):
        raise ValueError(f"mode must be '3d' or 'bev', not {mode!r}")
    foot_dt, foot_gt = dt.footprints(), gt.footprints()
    base_dt = dt.dimensions[:, 0] * dt.dimensions[:, 1]
    base_gt = gt.dimensions[:, 0] * gt.dimensions[:, 1]
    z_dt = dt.position[:, 2, None] + np.array([-0.5, 0.5]) * dt.dimensions[:, 2, None]
    z_gt = gt.position[:, 2, None] + np.array([-0.5, 0.5]) * gt.dimensions[:, 2, None]
    radius_dt = np.hypot(dt.dimensions[:, 0], dt.dimensions[:, 1]) / 2
    radius_gt = np.hypot(gt.dimensions[:, 0], gt.dimensions[:, 1]) / 2

    def kernel(dt_index: IndexArray, gt_index: IndexArray, gt_crowd: BoolArray) -> FloatArray:
        d, g, crowd = check_pairs(dt_index, gt_index, gt_crowd, len(dt), len(gt))
        height = np.maximum(
            0.0, np.minimum(z_dt[d, 1], z_gt[g, 1]) - np.maximum(z_dt[d, 0], z_gt[g, 0])
        )
        centre_gap = np.hypot(
            dt.position[d, 0] - gt.position[g, 0], dt.position[d, 1] - gt.position[g, 1]
        )
        near = centre_gap < radius_dt[d] + radius_gt[g]
        if mode == "3d":
            near &= height > 0
        inter = np.zeros(d.shape[0], dtype=np.float64)
        cand = np.flatnonzero(near)
        if cand.size:
            inter[cand] = intersection_areas(foot_dt[d[cand]], foot_gt[g[cand]])
        if mode == "bev":
            return area_iou(inter, base_dt[d], base_gt[g], crowd)
        return area_iou(
            inter * height,
            base_dt[d] * dt.dimensions[d, 2],
            base_gt[g] * gt.dimensions[g, 2],
            crowd,
        )

    return kernel
