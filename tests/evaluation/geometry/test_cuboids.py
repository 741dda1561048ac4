"""Cuboid 3D and BEV IoU on hand-computed cases."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from sliceboard.evaluation.geometry.cuboids import CuboidBatch, cuboid_similarity


def _iou(
    a: tuple[Any, Any, Any], b: tuple[Any, Any, Any], mode: str = "3d", crowd: bool = False
) -> float:
    dt = CuboidBatch.from_arrays([a[0]], [a[1]], [a[2]])
    gt = CuboidBatch.from_arrays([b[0]], [b[1]], [b[2]])
    kernel = cuboid_similarity(dt, gt, mode)  # type: ignore[arg-type]
    return float(kernel(np.array([0]), np.array([0]), np.array([crowd]))[0])


UNIT = ((0.0, 0.0, 0.0), (2.0, 2.0, 2.0), 0.0)


def test_identical_is_one_and_disjoint_is_zero() -> None:
    assert _iou(UNIT, UNIT) == pytest.approx(1.0, abs=1e-12)
    assert _iou(UNIT, ((10.0, 0.0, 0.0), (2.0, 2.0, 2.0), 0.0)) == 0.0
    assert _iou(UNIT, ((0.0, 0.0, 5.0), (2.0, 2.0, 2.0), 0.0)) == 0.0  # stacked above
    assert _iou(UNIT, ((0.0, 0.0, 5.0), (2.0, 2.0, 2.0), 0.0), "bev") == pytest.approx(1.0)


def test_axis_aligned_equals_box_iou_in_3d() -> None:
    a = ((1.0, 2.0, 0.5), (4.0, 2.0, 1.0), 0.0)
    b = ((2.0, 2.5, 1.0), (4.0, 2.0, 2.0), 0.0)
    # x overlap [0,3]∩[... ]: a spans x[-1,3], y[1,3], z[0,1]; b spans x[0,4], y[1.5,3.5], z[0,2]
    inter = 3.0 * 1.5 * 1.0
    expected = inter / (8.0 + 16.0 - inter)
    assert _iou(a, b) == pytest.approx(expected, abs=1e-12)
    bev_inter = 3.0 * 1.5
    assert _iou(a, b, "bev") == pytest.approx(bev_inter / (8.0 + 8.0 - bev_inter), abs=1e-12)


def test_yaw_by_90_degrees_swaps_the_footprint_sides() -> None:
    long_x = ((0.0, 0.0, 0.0), (4.0, 2.0, 1.0), 0.0)
    turned = ((0.0, 0.0, 0.0), (2.0, 4.0, 1.0), math.pi / 2)
    assert _iou(long_x, turned) == pytest.approx(1.0, abs=1e-12)
    across = ((0.0, 0.0, 0.0), (4.0, 2.0, 1.0), math.pi / 2)
    assert _iou(long_x, across) == pytest.approx(4.0 / 12.0, abs=1e-12)
    assert _iou(long_x, ((0.0, 0.0, 0.0), (4.0, 2.0, 1.0), math.pi)) == pytest.approx(1.0)


def test_45_degree_yaw_matches_the_octagon_area() -> None:
    a = ((0.0, 0.0, 0.0), (2.0, 2.0, 3.0), 0.0)
    b = ((0.0, 0.0, 0.0), (2.0, 2.0, 3.0), math.pi / 4)
    octagon = 8 * (math.sqrt(2) - 1)
    assert _iou(a, b, "bev") == pytest.approx(octagon / (8 - octagon), abs=1e-12)
    assert _iou(a, b) == pytest.approx(octagon / (8 - octagon), abs=1e-12)


def test_crowd_divides_by_the_prediction_volume() -> None:
    small = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 0.0)
    assert _iou(small, UNIT, crowd=True) == pytest.approx(1.0)
    assert _iou(small, UNIT) == pytest.approx(1.0 / 8.0)


def test_many_pairs_in_one_call_match_single_calls() -> None:
    rng = np.random.default_rng(0)
    pos = rng.uniform(-5, 5, (20, 3))
    dims = rng.uniform(0.5, 4, (20, 3))
    yaw = rng.uniform(-math.pi, math.pi, 20)
    batch = CuboidBatch.from_arrays(pos, dims, yaw)
    d, g = rng.integers(0, 20, 200), rng.integers(0, 20, 200)
    together = cuboid_similarity(batch, batch)(d, g, np.zeros(200, bool))
    single = [
        _iou((pos[i], dims[i], yaw[i]), (pos[j], dims[j], yaw[j]))
        for i, j in zip(d, g, strict=True)
    ]
    np.testing.assert_allclose(together, single, rtol=0, atol=1e-12)
    assert np.all(together[d == g] > 1 - 1e-12)


def test_bad_cuboids_are_rejected() -> None:
    with pytest.raises(ValueError, match="cuboid 1"):
        CuboidBatch.from_arrays([[0, 0, 0], [0, 0, 0]], [[1, 1, 1], [1, -1, 1]], [0, 0])
    one = CuboidBatch.from_arrays([[0, 0, 0]], [[1, 1, 1]], [0])
    mode: Any = "2d"
    with pytest.raises(ValueError, match="mode"):
        cuboid_similarity(one, one, mode)
