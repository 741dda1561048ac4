"""Field validators: a message for bad input, None for input the kernels accept."""

from __future__ import annotations

import math

import numpy as np
import pycocotools.mask as coco_mask
import pytest

from sliceboard.evaluation.geometry.keypoints import KeypointBatch
from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.validation import (
    polygon_needs_repair,
    validate_box,
    validate_coco_polygon,
    validate_cuboid,
    validate_keypoints,
    validate_polygon,
    validate_polyline,
    validate_rle,
    validate_size,
)


def test_valid_rle_in_both_forms_passes_and_builds() -> None:
    mask = np.zeros((4, 5), np.uint8)
    mask[1:3, 2:4] = 1
    rle = coco_mask.encode(np.asfortranarray(mask))
    assert validate_rle(rle["counts"], rle["size"]) is None
    assert validate_rle(rle["counts"].decode(), [4, 5]) is None
    runs = RleBatch.from_masks(mask).runs(0).tolist()
    assert validate_rle(runs, [4, 5]) is None
    RleBatch.from_counts([runs], [(4, 5)])  # does not raise


@pytest.mark.parametrize(
    ("counts", "size", "fragment"),
    [
        ([1, 2], [2, 2], "sum to 3"),
        ([5, -1], [2, 2], "negative"),
        ([1.5, 2.5], [2, 2], "integers"),
        ("0a", [2, 2], "ends inside a number"),
        ("ab~", [2, 2], "alphabet"),
        ("0", [0, 2], "positive"),
        ("0", [2], "[height, width]"),
        ([4], [True, 4], "integers"),
        ([1], [70000, 70000], "2**32"),
    ],
)
def test_bad_rle_gets_a_message(counts, size, fragment) -> None:
    message = validate_rle(counts, size)
    assert message is not None and fragment in message


def test_size_validation() -> None:
    assert validate_size([3, 4]) is None
    assert validate_size([-1, 4]) == "height and width must be positive"


def test_coco_polygons() -> None:
    assert validate_coco_polygon([[0, 0, 1, 0, 1, 1]]) is None
    assert validate_coco_polygon([]) is not None
    assert "odd" in str(validate_coco_polygon([[0, 0, 1, 0, 1]]))
    assert "3 points" in str(validate_coco_polygon([[0, 0, 1, 1]]))
    assert "finite" in str(validate_coco_polygon([[0, 0, 1, 0, math.nan, 1]]))


def test_polygons_and_repair_flag() -> None:
    square = [(0, 0), (1, 0), (1, 1), (0, 1)]
    assert validate_polygon(square) is None
    assert validate_polygon(square, [[(0.2, 0.2), (0.4, 0.2), (0.4, 0.4)]]) is None
    assert "holes[0]" in str(validate_polygon(square, [[(0, 0), (1, 1)]]))
    assert "3 points" in str(validate_polygon([(0, 0), (1, 1)]))
    assert "finite" in str(validate_polygon([(0, 0), (1, math.inf), (2, 0)]))
    assert "points" in str(validate_polygon([1, 2, 3]))
    assert not polygon_needs_repair(square)
    assert polygon_needs_repair([(0, 0), (1, 1), (1, 0), (0, 1)])


def test_polylines_boxes_cuboids_keypoints() -> None:
    assert validate_polyline([(0, 0), (1, 1)]) is None
    assert validate_polyline([(0, 0)]) is not None
    assert validate_box(0, 0, 1, 1, 0.3) is None
    assert validate_box(0, 0, -1, 1) is not None
    assert validate_box(0, math.nan, 1, 1) is not None
    assert validate_cuboid([0, 0, 0], [1, 2, 3], 0.1) is None
    assert validate_cuboid([0, 0], [1, 2, 3], 0.1) is not None
    assert validate_cuboid([0, 0, 0], [1, -2, 3], 0.1) is not None
    assert validate_keypoints([1, 2, 2, 3, 4, 0]) is None
    assert validate_keypoints([1, 2, 2, 3, 4, 0], expected=17) == "expected 17 keypoints, got 2"
    assert validate_keypoints([1, 2, 3]) == "visibility must be 0, 1 or 2"
    assert validate_keypoints([1, 2]) is not None
    KeypointBatch.from_coco([[1, 2, 2, 3, 4, 0]])  # accepted by the kernel side too
