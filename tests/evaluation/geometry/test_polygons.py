"""Polygon / rotated-box IoU: hand-computed cases, repair rule, agreement with box IoU."""

from __future__ import annotations

import math

import numpy as np
import pycocotools.mask as coco_mask
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from sliceboard.evaluation.geometry.polygons import (
    geometry_similarity,
    make_polygons,
    polygon_is_valid,
    polygon_similarity,
    rotated_box_polygons,
    rotated_box_similarity,
)

SQUARE = [(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)]
BIG = [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)]
HOLE = [(1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 2.0)]


def _pairs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.arange(n), np.arange(n), np.zeros(n, bool)


def test_hand_computed_polygon_ious_with_holes_and_crowd() -> None:
    kernel = polygon_similarity([SQUARE, BIG], [BIG, BIG], gt_holes=[[HOLE], [HOLE]])
    d = np.array([0, 0, 1])
    g = np.array([0, 1, 1])
    crowd = np.array([False, True, False])
    # square ∩ (big - hole) = 4 - 1 = 3; union = 4 + 15 - 3 = 16; crowd: 3 / 4
    # big vs (big - hole): 15 / 16
    np.testing.assert_allclose(kernel(d, g, crowd), [3 / 16, 3 / 4, 15 / 16], rtol=0, atol=1e-15)


def test_disjoint_and_touching_polygons_score_zero() -> None:
    far = [(10.0, 10.0), (11.0, 10.0), (11.0, 11.0)]
    beside = [(2.0, 0.0), (3.0, 0.0), (3.0, 2.0), (2.0, 2.0)]
    kernel = polygon_similarity([SQUARE, SQUARE], [far, beside])
    assert kernel(*_pairs(2)).tolist() == [0.0, 0.0]


def test_bow_tie_is_repaired_to_two_triangles() -> None:
    bow_tie = [(0.0, 0.0), (2.0, 2.0), (2.0, 0.0), (0.0, 2.0)]
    assert not polygon_is_valid(bow_tie)
    (repaired,) = make_polygons([bow_tie])
    assert repaired.geom_type == "MultiPolygon"
    assert repaired.area == pytest.approx(2.0)
    # the repaired shape covers half the square
    kernel = polygon_similarity([bow_tie], [SQUARE])
    assert kernel(*_pairs(1))[0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "ring",
    [
        [(0.0, 0.0), (1.0, 1.0)],  # too few vertices
        [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)],  # collinear: no area
        [(0.0, 0.0), (1.0, float("nan")), (1.0, 0.0)],  # not finite
        [(0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0)],  # a point
    ],
)
def test_degenerate_polygons_become_empty_and_score_zero(ring) -> None:
    (geom,) = make_polygons([ring])
    assert geom.area == 0.0
    assert polygon_similarity([ring], [SQUARE])(*_pairs(1)).tolist() == [0.0]


def test_hole_outside_shell_is_repaired_deterministically() -> None:
    stray = [(5.0, 5.0), (6.0, 5.0), (6.0, 6.0), (5.0, 6.0)]
    first = make_polygons([SQUARE], [[stray]])
    second = make_polygons([SQUARE], [[stray]])
    assert first[0].equals(second[0])
    assert shapely.is_valid(first[0])


def test_valid_polygon_is_reported_valid() -> None:
    assert polygon_is_valid(BIG, [HOLE])
    assert not polygon_is_valid([(0.0, 0.0), (1.0, 1.0)])


def test_rotation_turns_about_the_centre_from_x_toward_y() -> None:
    (quarter,) = rotated_box_polygons([[0.0, 0.0, 4.0, 2.0, math.pi / 2]])
    assert quarter.bounds == pytest.approx((1.0, -1.0, 3.0, 3.0))
    (turned,) = rotated_box_polygons([[0.0, 0.0, 2.0, 2.0, math.pi / 4]])
    xs = np.asarray(turned.exterior.coords)[:, 0]
    # for a small angle the first (top-left) corner moves right and up on screen
    (small,) = rotated_box_polygons([[0.0, 0.0, 2.0, 2.0, 0.1]])
    x0, y0 = np.asarray(small.exterior.coords)[0]
    assert x0 > 0.0 and y0 < 0.0
    assert turned.area == pytest.approx(4.0)
    assert max(xs) - min(xs) == pytest.approx(2 * math.sqrt(2))


def test_rotated_box_ious_hand_computed() -> None:
    dt = np.array([[0, 0, 4, 2, math.pi / 2], [0, 0, 2, 2, math.pi / 4], [0, 0, 2, 2, 0]])
    gt = np.array([[0, 0, 4, 2, 0], [0, 0, 2, 2, 0], [0, 0, 2, 2, math.pi]])
    ious = rotated_box_similarity(dt, gt)(*_pairs(3))
    # 4x2 and its 90-degree turn share a 2x2 square: 4 / (8 + 8 - 4)
    # a square and itself turned 45 degrees: octagon of area 8(sqrt2 - 1)
    octagon = 8 * (math.sqrt(2) - 1)
    np.testing.assert_allclose(ious, [1 / 3, octagon / (8 - octagon), 1.0], atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-50, 50), st.floats(-50, 50), st.floats(0.1, 40), st.floats(0.1, 40)),
        min_size=2,
        max_size=6,
    ),
    st.booleans(),
)
def test_unrotated_boxes_agree_with_pycocotools_box_iou(boxes, crowd) -> None:
    arr = np.asarray(boxes, dtype=np.float64)
    n = arr.shape[0]
    with_rotation = np.concatenate([arr, np.zeros((n, 1))], axis=1)
    d, g = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    ours = rotated_box_similarity(with_rotation, with_rotation)(d, g, np.full(d.shape[0], crowd))
    ref = np.asarray(coco_mask.iou(arr, arr, [int(crowd)] * n)).reshape(-1)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_kernel_over_many_items_matches_pairwise_shapely() -> None:
    rng = np.random.default_rng(3)
    dt = rotated_box_polygons(
        np.c_[rng.uniform(0, 50, (40, 2)), rng.uniform(1, 20, (40, 2)), rng.uniform(-3, 3, 40)]
    )
    gt = rotated_box_polygons(
        np.c_[rng.uniform(0, 50, (30, 2)), rng.uniform(1, 20, (30, 2)), rng.uniform(-3, 3, 30)]
    )
    d = rng.integers(0, 40, 500)
    g = rng.integers(0, 30, 500)
    ours = geometry_similarity(dt, gt)(d, g, np.zeros(500, bool))
    expected = [
        dt[i].intersection(gt[j]).area / dt[i].union(gt[j]).area for i, j in zip(d, g, strict=True)
    ]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)


def test_pair_arrays_are_checked() -> None:
    kernel = polygon_similarity([SQUARE], [SQUARE])
    with pytest.raises(ValueError, match="out of range"):
        kernel(np.array([1]), np.array([0]), np.array([False]))
    with pytest.raises(ValueError, match="differ in length"):
        kernel(np.array([0, 0]), np.array([0]), np.array([False]))
