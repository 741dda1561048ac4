"""Polygon and box rasterisation against pycocotools' frPyObjects + merge."""

from __future__ import annotations

import numpy as np
import pycocotools.mask as coco_mask
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.rle_polygon import (
    rasterize_polygons,
    rle_from_boxes,
    rle_from_polygons,
    union_groups,
)


def _reference(parts: list[list[float]], h: int, w: int) -> str:
    """What COCO.annToRLE does for a polygon segmentation."""
    rle = coco_mask.merge(coco_mask.frPyObjects(parts, h, w))
    return str(rle["counts"].decode())


def _random_part(rng: np.random.Generator, h: int, w: int) -> list[float]:
    k = int(rng.integers(3, 12))
    style = rng.integers(4)
    if style == 0:  # star-shaped blob
        cx, cy = rng.uniform(-5, w + 5), rng.uniform(-5, h + 5)
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(0.2, max(h, w) / 2, k)
        pts = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1)
    elif style == 1:  # arbitrary, often self-intersecting
        pts = rng.uniform(-10, max(h, w) + 10, (k, 2))
    elif style == 2:  # on the half-pixel lattice, where rounding ties happen
        pts = rng.integers(-4, 2 * max(h, w) + 4, (k, 2)) / 2.0
    else:  # tiny or collinear
        base = rng.uniform(0, max(h, w), 2)
        pts = base + rng.uniform(-0.3, 0.3, (k, 2)) * rng.choice([0.0, 1.0, 10.0])
    if rng.random() < 0.25:  # repeated vertices
        pts[rng.integers(k)] = pts[rng.integers(k)]
    return [float(v) for v in pts.ravel()]


def test_random_polygons_match_pycocotools_bit_for_bit() -> None:
    rng = np.random.default_rng(10)
    objects, heights, widths = [], [], []
    for _ in range(1500):
        h, w = (int(v) for v in rng.integers(1, 80, 2))
        objects.append([_random_part(rng, h, w) for _ in range(int(rng.integers(1, 4)))])
        heights.append(h)
        widths.append(w)
    ours = rle_from_polygons(objects, heights, widths).to_strings()
    expected = [_reference(o, h, w) for o, h, w in zip(objects, heights, widths, strict=True)]
    mismatches = [i for i, (a, b) in enumerate(zip(ours, expected, strict=True)) if a != b]
    assert mismatches == []


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-20, 60, width=32), st.floats(-20, 60, width=32)),
        min_size=3,
        max_size=8,
    ),
    st.integers(1, 40),
    st.integers(1, 40),
)
def test_any_polygon_matches_pycocotools(points, h, w) -> None:
    part = [float(c) for p in points for c in p]
    assert rle_from_polygons([[part]], h, w).to_strings() == [_reference([part], h, w)]


def test_boxes_rasterise_like_frbbox() -> None:
    boxes = np.array([[1.2, 2.5, 10.0, 4.0], [7.0, 0.0, 3.3, 9.9], [-3.0, -2.0, 4.0, 50.0]])
    rles = rle_from_boxes(boxes, 12, 15).to_strings()
    assert rles == [r["counts"].decode() for r in coco_mask.frPyObjects(boxes, 12, 15)]


def test_two_point_first_part_is_a_polygon_not_a_box() -> None:
    """pycocotools 2.0.11 raises TypeError here; a polygon is the consistent reading."""
    two = [1.0, 1.0, 8.0, 1.0]
    ours = rle_from_polygons([[two]], 10, 10).to_strings()
    assert ours == [
        coco_mask.frPyObjects([[0.0, 0.0, 1.0, 0.0, 1.0, 1.0], two], 10, 10)[1]["counts"].decode()
    ]


def test_two_point_later_part_is_a_degenerate_polygon() -> None:
    parts = [[1.0, 1.0, 8.0, 1.0, 8.0, 6.0], [2.0, 9.0, 9.0, 9.5]]
    assert rle_from_polygons([parts], 12, 12).to_strings() == [_reference(parts, 12, 12)]


def test_odd_trailing_coordinate_is_ignored_like_pycocotools() -> None:
    part = [1.0, 1.0, 8.0, 1.0, 8.0, 6.0, 3.0]
    assert rle_from_polygons([[part]], 10, 10).to_strings() == [_reference([part], 10, 10)]


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ([[]], "at least one part"),
        ([[[1.0, 2.0]]], "at least 2 points"),
        ([[[0.0, 0.0, 1.0, 1.0, 2.0, 0.0], [3.0]]], "part 1: a polygon needs"),
    ],
)
def test_unusable_polygons_raise_value_error(objects, message) -> None:
    with pytest.raises(ValueError, match=message):
        rle_from_polygons(objects, 10, 10)


def test_union_of_overlapping_and_touching_masks_matches_merge() -> None:
    rng = np.random.default_rng(11)
    groups = []
    for _ in range(200):
        n = int(rng.integers(1, 5))
        groups.append([rng.random((9, 7)) < rng.uniform(0.1, 0.7) for _ in range(n)])
    flat = [m for g in groups for m in g]
    batch = RleBatch.from_masks(np.stack(flat))
    offsets = np.r_[0, np.cumsum([len(g) for g in groups])]
    ours = union_groups(batch, offsets).to_strings()
    for got, group in zip(ours, groups, strict=True):
        refs = [coco_mask.encode(np.asfortranarray(m.astype(np.uint8))) for m in group]
        assert got == coco_mask.merge(refs)["counts"].decode()


def test_rasterize_rejects_rings_without_vertices_or_finite_coordinates() -> None:
    with pytest.raises(ValueError, match="at least one vertex"):
        rasterize_polygons(np.zeros((0, 2)), [0, 0], [5], [5])
    with pytest.raises(ValueError, match="finite"):
        rle_from_polygons([[[0.0, 0.0, float("nan"), 1.0, 2.0, 2.0]]], 5, 5)


def test_far_outside_and_huge_polygons_match_pycocotools() -> None:
    cases = [
        [1e5, 1e5, 2e5, 1e5, 2e5, 3e5],  # far outside
        [-1e5, -3.0, 1e5, 4.0, 0.0, 1e5],  # huge, crossing the image
        [-50.0, 10.0, 60.0, -40.0, 30.0, 90.0],
        [3.0, -1e4, 3.5, 1e4, 4.0, -1e4],  # very steep, thin
    ]
    for part in cases:
        assert rle_from_polygons([[part]], 20, 30).to_strings() == [_reference([part], 20, 30)]


def test_small_chunks_rasterise_the_same(monkeypatch) -> None:
    from sliceboard.evaluation.geometry import kernel

    rng = np.random.default_rng(12)
    objects = [[_random_part(rng, 30, 40) for _ in range(2)] for _ in range(50)]
    whole = rle_from_polygons(objects, 30, 40).to_strings()
    monkeypatch.setattr(kernel, "CHUNK_ELEMENTS", 5)
    assert rle_from_polygons(objects, 30, 40).to_strings() == whole
    assert whole == [_reference(o, 30, 40) for o in objects]
