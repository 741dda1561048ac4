"""Every geometry family evaluates: a perfect prediction scores AP 1, a shifted one misses at
high IoU, and families that cannot be compared fail with a message naming them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sliceboard.evaluation import coco_summary, threshold_metrics
from sliceboard.services.evaluation.inputs import UnsupportedRun, build_run_inputs
from sliceboard.services.evaluation.lifecycle import compute_snapshot
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.services.evaluation.snapshot import Snapshot
from sliceboard.storage.evaluation_data import ObjectRows, RunData


def rows(kind: str, geometries: list[Any], *, confidence: bool) -> ObjectRows:
    n = len(geometries)
    return ObjectRows.from_lists(
        ids=list(range(1, n + 1)),
        item_ids=[1] * n,
        labels=["a"] * n,
        types=[kind] * n,
        geometries=geometries,
        areas=[None] * n,
        iscrowd=[False] * n,
        confidences=[0.9] * n if confidence else [None] * n,
    )


def run(kind: str, gt: list[Any], dt: list[Any]) -> RunData:
    return RunData(
        item_ids=[1],
        item_reference_ids=["1"],
        item_sizes={1: (60, 80)},
        ground_truth=rows(kind, gt, confidence=False),
        predictions=rows(kind, dt, confidence=True),
    )


def square(x: float, y: float, side: float) -> list[list[float]]:
    return [[x, y], [x + side, y], [x + side, y + side], [x, y + side]]


KEYPOINTS = [[10.0 + 2 * k, 20.0 + k, 2] for k in range(17)]
CASES: dict[str, tuple[str, Any, Any]] = {
    "bbox": ("BOX", {"x": 5, "y": 5, "width": 20, "height": 10, "rotation": 0.0},
             {"x": 9, "y": 5, "width": 20, "height": 10, "rotation": 0.0}),
    "rotated": ("BOX", {"x": 5, "y": 5, "width": 20, "height": 10, "rotation": 0.5},
                {"x": 9, "y": 5, "width": 20, "height": 10, "rotation": 0.5}),
    "polygon": ("POLYGON", {"vertices": square(5, 5, 20), "holes": [square(10, 10, 4)]},
                {"vertices": square(9, 5, 20), "holes": []}),
    "segm": ("SEGMENTATION", {"polygons": [{"vertices": square(5, 5, 20), "holes": []}]},
             {"polygons": [{"vertices": square(9, 5, 20), "holes": []}]}),
    "keypoints": ("KEYPOINTS", {"points": KEYPOINTS, "names": [None] * 17, "skeleton": None},
                  {"points": [[x + 6, y, v] for x, y, v in KEYPOINTS], "names": [None] * 17, "skeleton": None}),
    "cuboid": ("CUBOID", {"position": [0, 0, 0], "dimensions": [4, 2, 2], "yaw": 0.3},
               {"position": [1.5, 0, 0], "dimensions": [4, 2, 2], "yaw": 0.3}),
    "polyline": ("POLYLINE", {"vertices": [[0, 0], [30, 0], [30, 30]]},
                 {"vertices": [[0, 1.5], [30, 1.5], [30, 30]]}),
}  # fmt: skip


@pytest.mark.parametrize("family", sorted(CASES))
def test_a_perfect_prediction_has_ap_one_and_a_shifted_one_misses_at_high_iou(family: str) -> None:
    kind, gt, shifted = CASES[family]
    blob, _ = compute_snapshot(run(kind, [gt], [gt]), EvaluationOptions())
    snapshot = Snapshot.from_bytes(blob)
    perfect = coco_summary(snapshot.table, kind=snapshot.kind)  # type: ignore[arg-type]
    assert perfect.stats[0] == pytest.approx(1.0)

    blob, _ = compute_snapshot(run(kind, [gt], [shifted]), EvaluationOptions())
    table = Snapshot.from_bytes(blob).table
    at_low = threshold_metrics(table, iou_threshold=0.05)
    at_high = threshold_metrics(table, iou_threshold=0.95)
    assert int(at_low.overall.tp) == 1
    assert int(at_high.overall.tp) == 0 and int(at_high.overall.fn) == 1


def test_categories_match_on_the_label_alone() -> None:
    data = RunData(
        item_ids=[1, 2],
        item_reference_ids=["1", "2"],
        item_sizes={},
        ground_truth=ObjectRows.from_lists(
            ids=[1, 2], item_ids=[1, 2], labels=["cat", "dog"], types=["CATEGORY"] * 2,
            geometries=[None] * 2, areas=[None] * 2, iscrowd=[False] * 2, confidences=[None] * 2),
        predictions=ObjectRows.from_lists(
            ids=[1, 2], item_ids=[1, 2], labels=["cat", "cat"], types=["CATEGORY"] * 2,
            geometries=[None] * 2, areas=[None] * 2, iscrowd=[False] * 2, confidences=[0.8, 0.7]),
    )  # fmt: skip
    table = Snapshot.from_bytes(compute_snapshot(data, EvaluationOptions())[0]).table
    metrics = threshold_metrics(table, iou_threshold=0.5)
    assert (int(metrics.overall.tp), int(metrics.overall.fp), int(metrics.overall.fn)) == (1, 1, 1)
    # rows: ground truth cat, dog, background; columns: prediction cat, dog, background
    np.testing.assert_array_equal(metrics.confusion, [[1, 0, 0], [1, 0, 0], [0, 0, 0]])


def test_geometries_that_cannot_be_compared_fail_with_a_message() -> None:
    data = run("BOX", [CASES["bbox"][1]], [CASES["bbox"][1]])
    mixed = RunData(
        item_ids=data.item_ids,
        item_reference_ids=data.item_reference_ids,
        item_sizes=data.item_sizes,
        ground_truth=data.ground_truth,
        predictions=rows("CUBOID", [CASES["cuboid"][1]], confidence=True),
    )
    with pytest.raises(UnsupportedRun, match="BOX, CUBOID"):
        build_run_inputs(mixed)


def test_a_run_without_predictions_fails_with_a_message() -> None:
    data = run("BOX", [CASES["bbox"][1]], [])
    with pytest.raises(UnsupportedRun, match="no predictions"):
        build_run_inputs(data)


# Which evaluation family each case is matched in, and its COCO summary flavour.
EVALUATED_AS = {
    "bbox": ("bbox", "bbox"),
    "rotated": ("polygon", "bbox"),
    "polygon": ("polygon", "bbox"),
    "segm": ("segm", "segm"),
    "keypoints": ("keypoints", "keypoints"),
    "cuboid": ("cuboid", "bbox"),
    "polyline": ("polyline", "bbox"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_geometry_is_evaluated_in_its_family(case: str) -> None:
    kind, gt, shifted = CASES[case]
    inputs = build_run_inputs(run(kind, [gt], [shifted]))
    assert (inputs.family, inputs.kind) == EVALUATED_AS[case]


def test_boxes_with_polygons_are_evaluated_as_polygons() -> None:
    box = {"x": 5, "y": 5, "width": 20, "height": 20, "rotation": 0.0}
    data = RunData(
        item_ids=[1],
        item_reference_ids=["1"],
        item_sizes={},
        ground_truth=rows("BOX", [box], confidence=False),
        predictions=rows(
            "POLYGON", [{"vertices": square(15, 5, 20), "holes": []}], confidence=True
        ),
    )
    inputs = build_run_inputs(data)
    assert inputs.family == "polygon"
    iou = inputs.similarity(np.array([0]), np.array([0]), np.array([False]))
    np.testing.assert_allclose(iou, [200 / 600])  # overlap 10x20 over union 20x20 + 20x20 - 200
