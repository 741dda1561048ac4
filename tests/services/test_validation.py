"""Row validation without a database: every bad field yields an issue at its exact path."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from sliceboard.services.validation import (
    Issues,
    validate_annotations,
    validate_items,
    validate_predictions,
)
from tests.support.factories import annotation, box, item, prediction, pts


def paths_of(rows: list[dict[str, Any]], kind: str = "annotations") -> list[str]:
    issues = Issues()
    validate = {
        "annotations": validate_annotations,
        "predictions": validate_predictions,
        "items": validate_items,
    }[kind]
    validate(rows, issues)
    return [issue.path for issue in issues.items]


def normalised(row: dict[str, Any]) -> dict[str, Any]:
    issues = Issues()
    rows = validate_annotations([row], issues)
    assert not issues, issues.items
    return rows[0]


GOOD_RLE = {"counts": [2, 3, 4, 1, 2], "size": [3, 4]}

BAD_ANNOTATIONS: list[tuple[str, dict[str, Any], str]] = [
    ("nan x", annotation("a", "1", box=box(x=math.nan)), "annotations[0].box.x"),
    ("inf y", annotation("a", "1", box=box(y=math.inf)), "annotations[0].box.y"),
    ("zero width", annotation("a", "1", box=box(width=0)), "annotations[0].box.width"),
    ("negative height", annotation("a", "1", box=box(height=-1)), "annotations[0].box.height"),
    (
        "nan rotation",
        annotation("a", "1", box=box(rotation=math.nan)),
        "annotations[0].box.rotation",
    ),
    ("bool coordinate", annotation("a", "1", box=box(x=True)), "annotations[0].box.x"),
    (
        "polygon of 2",
        annotation("a", "1", polygon={"vertices": pts((0, 0), (1, 1))}),
        "annotations[0].polygon.vertices",
    ),
    (
        "bow tie",
        annotation("a", "1", polygon={"vertices": pts((0, 0), (2, 2), (2, 0), (0, 2))}),
        "annotations[0].polygon",
    ),
    (
        "collinear",
        annotation("a", "1", polygon={"vertices": pts((0, 0), (1, 1), (2, 2))}),
        "annotations[0].polygon",
    ),
    (
        "nan vertex",
        annotation("a", "1", polygon={"vertices": pts((0, 0), (1, math.nan), (2, 0))}),
        "annotations[0].polygon.vertices[1].y",
    ),
    (
        "short hole",
        annotation(
            "a",
            "1",
            polygon={"vertices": pts((0, 0), (9, 0), (9, 9)), "holes": [pts((1, 1), (2, 1))]},
        ),
        "annotations[0].polygon.holes[0]",
    ),
    (
        "polyline of 1",
        annotation("a", "1", polyline={"vertices": pts((0, 0))}),
        "annotations[0].polyline.vertices",
    ),
    (
        "visibility 3",
        annotation("a", "1", keypoints={"points": [{"x": 1, "y": 1, "visibility": 3}]}),
        "annotations[0].keypoints.points[0].visibility",
    ),
    (
        "visibility -1",
        annotation("a", "1", keypoints={"points": [{"x": 1, "y": 1, "visibility": -1}]}),
        "annotations[0].keypoints.points[0].visibility",
    ),
    (
        "skeleton out of range",
        annotation(
            "a",
            "1",
            keypoints={
                "points": [{"x": 1, "y": 1, "visibility": 2}] * 2,
                "skeleton": [[0, 1], [1, 2]],
            },
        ),
        "annotations[0].keypoints.skeleton[1]",
    ),
    (
        "no keypoints",
        annotation("a", "1", keypoints={"points": []}),
        "annotations[0].keypoints.points",
    ),
    (
        "rle sum",
        annotation("a", "1", segmentation={"rle": {"counts": [2, 3], "size": [3, 4]}}),
        "annotations[0].segmentation.rle.counts",
    ),
    (
        "rle negative run",
        annotation("a", "1", segmentation={"rle": {"counts": [14, -2], "size": [3, 4]}}),
        "annotations[0].segmentation.rle.counts",
    ),
    (
        "rle bad string",
        annotation("a", "1", segmentation={"rle": {"counts": "ab~~", "size": [3, 4]}}),
        "annotations[0].segmentation.rle.counts",
    ),
    (
        "rle cut string",
        annotation("a", "1", segmentation={"rle": {"counts": "0o", "size": [3, 4]}}),
        "annotations[0].segmentation.rle.counts",
    ),
    (
        "rle size of 3",
        annotation("a", "1", segmentation={"rle": {"counts": [12], "size": [3, 4, 1]}}),
        "annotations[0].segmentation.rle.size",
    ),
    (
        "rle size zero",
        annotation("a", "1", segmentation={"rle": {"counts": [0], "size": [0, 4]}}),
        "annotations[0].segmentation.rle.size",
    ),
    ("segmentation neither", annotation("a", "1", segmentation={}), "annotations[0].segmentation"),
    (
        "segmentation both",
        annotation(
            "a",
            "1",
            segmentation={"rle": GOOD_RLE, "polygons": [{"vertices": pts((0, 0), (1, 0), (1, 1))}]},
        ),
        "annotations[0].segmentation",
    ),
    (
        "cuboid zero dimension",
        annotation(
            "a",
            "1",
            cuboid={
                "position": {"x": 0, "y": 0, "z": 0},
                "dimensions": {"x": 1, "y": 0, "z": 1},
                "yaw": 0,
            },
        ),
        "annotations[0].cuboid.dimensions.y",
    ),
    (
        "two geometries",
        annotation("a", "1", box=box(), polygon={"vertices": pts((0, 0), (1, 0), (1, 1))}),
        "annotations[0]",
    ),
    ("empty label", annotation("a", "1", label=""), "annotations[0].label"),
    ("blank referenceId", annotation(" ", "1"), "annotations[0].referenceId"),
    ("empty annotationId", annotation("a", ""), "annotations[0].annotationId"),
    ("metadata list", annotation("a", "1", metadata=[1, 2]), "annotations[0].metadata"),
    (
        "metadata nan inside",
        annotation("a", "1", metadata={"a": {"b": [1.0, math.inf]}}),
        "annotations[0].metadata.a.b[1]",
    ),
    ("negative area", annotation("a", "1", area=-1.0), "annotations[0].area"),
    ("iscrowd not bool", annotation("a", "1", iscrowd="yes"), "annotations[0].iscrowd"),
    (
        "classification without value",
        annotation("a", "1", classifications=[{"name": "color", "value": ""}]),
        "annotations[0].classifications[0].value",
    ),
]


@pytest.mark.parametrize(
    ("row", "path"),
    [(row, path) for _, row, path in BAD_ANNOTATIONS],
    ids=[name for name, _, _ in BAD_ANNOTATIONS],
)
def test_bad_annotation_field_has_exact_path(row: dict[str, Any], path: str) -> None:
    assert paths_of([row]) == [path]


BAD_PREDICTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("confidence above 1", prediction("a", "1", confidence=1.5), "predictions[0].confidence"),
    ("confidence below 0", prediction("a", "1", confidence=-0.1), "predictions[0].confidence"),
    ("confidence nan", prediction("a", "1", confidence=math.nan), "predictions[0].confidence"),
    (
        "class_pdf sum",
        prediction("a", "1", class_pdf={"car": 0.5, "bus": 0.4}),
        "predictions[0].classPdf",
    ),
    (
        "class_pdf negative",
        prediction("a", "1", class_pdf={"car": 1.2, "bus": -0.2}),
        "predictions[0].classPdf.bus",
    ),
    ("class_pdf not object", prediction("a", "1", class_pdf=[0.5, 0.5]), "predictions[0].classPdf"),
    (
        "class_pdf string value",
        prediction("a", "1", class_pdf={"car": "1"}),
        "predictions[0].classPdf.car",
    ),
    (
        "metric duplicate",
        prediction(
            "a", "1", custom_metrics=[{"name": "iou", "value": 0.5}, {"name": "iou", "value": 0.6}]
        ),
        "predictions[0].customMetrics[1].name",
    ),
    (
        "metric inf",
        prediction("a", "1", custom_metrics=[{"name": "iou", "value": math.inf}]),
        "predictions[0].customMetrics[0].value",
    ),
    ("box in prediction", prediction("a", "1", box=box(width=-3)), "predictions[0].box.width"),
]


@pytest.mark.parametrize(
    ("row", "path"),
    [(row, path) for _, row, path in BAD_PREDICTIONS],
    ids=[name for name, _, _ in BAD_PREDICTIONS],
)
def test_bad_prediction_field_has_exact_path(row: dict[str, Any], path: str) -> None:
    assert paths_of([row], "predictions") == [path]


BAD_ITEMS: list[tuple[str, dict[str, Any], str]] = [
    ("empty referenceId", item(""), "items[0].referenceId"),
    ("zero width", item("a", width=0), "items[0].width"),
    ("float height", item("a", height=1.5), "items[0].height"),
    ("long url", item("a", url="h" * 2049), "items[0].url"),
    ("url not string", item("a", url=3), "items[0].url"),
    ("metadata string", item("a", metadata="x"), "items[0].metadata"),
]


@pytest.mark.parametrize(
    ("row", "path"),
    [(row, path) for _, row, path in BAD_ITEMS],
    ids=[name for name, _, _ in BAD_ITEMS],
)
def test_bad_item_field_has_exact_path(row: dict[str, Any], path: str) -> None:
    assert paths_of([row], "items") == [path]


def test_every_issue_of_a_batch_is_reported_with_its_index() -> None:
    rows = [
        annotation("a", "1"),
        annotation("a", "2", box=box(width=0, height=math.nan), label=""),
        annotation("a", "1"),  # duplicate key of row 0
        annotation("b", "1"),
    ]
    assert sorted(paths_of(rows)) == [
        "annotations[1].box.height",
        "annotations[1].box.width",
        "annotations[1].label",
        "annotations[2].annotationId",
    ]


def test_duplicate_reference_id_in_items_batch() -> None:
    assert paths_of([item("a"), item("b"), item("a")], "items") == ["items[2].referenceId"]


def test_box_is_normalised_with_rotation_and_area() -> None:
    row = normalised(annotation("a", "1", box={"x": 1, "y": 2, "width": 3, "height": 4}))
    assert row["type"] == "BOX"
    assert row["geometry"] == {"x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0, "rotation": 0.0}
    assert row["area"] == 12.0
    assert row["iscrowd"] is False


def test_user_area_wins_over_geometry_area() -> None:
    assert normalised(annotation("a", "1", area=5.5))["area"] == 5.5


def test_polygon_with_hole_area_and_json() -> None:
    shell = pts((0, 0), (10, 0), (10, 10), (0, 10))
    hole = pts((2, 2), (4, 2), (4, 4), (2, 4))
    row = normalised(annotation("a", "1", polygon={"vertices": shell, "holes": [hole]}))
    assert row["type"] == "POLYGON"
    assert row["geometry"]["vertices"] == [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
    assert row["geometry"]["holes"] == [[[2.0, 2.0], [4.0, 2.0], [4.0, 4.0], [2.0, 4.0]]]
    assert row["area"] == 96.0


def test_polyline_keypoints_cuboid_category() -> None:
    line = normalised(annotation("a", "1", polyline={"vertices": pts((0, 0), (3, 4))}))
    assert (line["type"], line["geometry"], line["area"]) == (
        "POLYLINE",
        {"vertices": [[0.0, 0.0], [3.0, 4.0]]},
        None,
    )
    points = [
        {"x": 1, "y": 1, "visibility": 2, "name": "nose"},
        {"x": 5, "y": 4, "visibility": 1},
        {"x": 100, "y": 100, "visibility": 0},
    ]
    kp = normalised(annotation("a", "1", keypoints={"points": points, "skeleton": [[0, 1]]}))
    assert kp["geometry"] == {
        "points": [[1.0, 1.0, 2], [5.0, 4.0, 1], [100.0, 100.0, 0]],
        "names": ["nose", None, None],
        "skeleton": [[0, 1]],
    }
    assert kp["area"] == 12.0  # the invisible point does not stretch the extent
    cuboid = normalised(
        annotation(
            "a",
            "1",
            cuboid={
                "position": {"x": 1, "y": 2, "z": 3},
                "dimensions": {"x": 2, "y": 5, "z": 1},
                "yaw": 0.5,
            },
        )
    )
    assert cuboid["geometry"] == {
        "position": [1.0, 2.0, 3.0],
        "dimensions": [2.0, 5.0, 1.0],
        "yaw": 0.5,
    }
    assert cuboid["area"] == 10.0
    category = normalised(annotation("a", "1", box=None))
    assert (category["type"], category["geometry"], category["area"]) == ("CATEGORY", None, None)


def _runs(flat: np.ndarray) -> list[int]:
    """COCO run lengths of a column-major 0/1 vector (background first)."""
    runs: list[int] = []
    current, length = 0, 0
    for value in flat.tolist():
        if value == current:
            length += 1
        else:
            runs.append(length)
            current, length = value, 1
    runs.append(length)
    return runs


def test_rle_list_is_stored_as_the_pycocotools_string() -> None:
    rng = np.random.default_rng(7)
    mask = np.asfortranarray((rng.random((13, 17)) > 0.6).astype(np.uint8))
    encoded = coco_mask.encode(mask)
    expected = encoded["counts"].decode()
    runs = _runs(mask.flatten(order="F"))
    row = normalised(annotation("a", "1", segmentation={"rle": {"counts": runs, "size": [13, 17]}}))
    assert row["geometry"] == {"rle": {"counts": expected, "size": [13, 17]}}
    assert row["area"] == float(coco_mask.area(encoded)) == float(mask.sum())
    again = normalised(
        annotation("a", "1", segmentation={"rle": {"counts": expected, "size": [13, 17]}})
    )
    assert again["geometry"] == row["geometry"]
    assert again["area"] == row["area"]


def test_segmentation_polygons_area_is_their_union() -> None:
    square = {"vertices": pts((0, 0), (4, 0), (4, 4), (0, 4))}
    shifted = {"vertices": pts((2, 0), (6, 0), (6, 4), (2, 4))}
    row = normalised(annotation("a", "1", segmentation={"polygons": [square, shifted]}))
    assert row["type"] == "SEGMENTATION"
    assert row["area"] == 24.0
    assert len(row["geometry"]["polygons"]) == 2


def test_prediction_extras_are_normalised() -> None:
    issues = Issues()
    rows = validate_predictions(
        [
            prediction(
                "a",
                "1",
                confidence=None,
                class_pdf={"car": 0.6, "bus": 0.4000001},
                custom_metrics=[{"name": "iou", "value": 1}],
            )
        ],
        issues,
    )
    assert not issues
    assert rows[0]["confidence"] is None
    assert rows[0]["class_pdf"] == {"car": 0.6, "bus": 0.4000001}
    assert rows[0]["custom_metrics"] == [{"name": "iou", "value": 1.0}]
