"""The COCO loader: pycocotools' reading rules, and one clear line for every bad file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sliceboard.cocofiles import CocoFileError, load_ground_truth, load_results
from sliceboard.evaluate_coco import main
from tests.support.json_files import write_json


def small_gt() -> dict[str, Any]:
    return {
        "images": [
            {"id": 42, "width": 20, "height": 10},
            {"id": 7, "width": 20, "height": 10},
            {"id": 100, "width": 20, "height": 10},
        ],
        "categories": [{"id": 90, "name": "b"}, {"id": 3, "name": "a"}],
        "annotations": [
            {"id": 1, "image_id": 42, "category_id": 3, "bbox": [1, 1, 4, 4], "area": 12.0,
             "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]]},
            {"id": 2, "image_id": 7, "category_id": 90, "bbox": [2, 2, 6, 3], "area": 18, "iscrowd": 1,
             "segmentation": {"counts": [22, 3, 7, 3, 165], "size": [10, 20]}},
        ],
    }  # fmt: skip


def det(**fields: Any) -> dict[str, Any]:
    return {"image_id": 42, "category_id": 3, "bbox": [1, 1, 4, 4], "score": 0.5, **fields}


def bad_file_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, gt: Any, dt: Any, iou_type: str = "bbox"
) -> str:
    """Runs the command on files that must be rejected: exit 2, exactly one stderr line."""
    gt_path = tmp_path / "gt.json"
    dt_path = tmp_path / "dt.json"
    for path, value in ((gt_path, gt), (dt_path, dt)):
        if isinstance(value, bytes):
            path.write_bytes(value)
        else:
            path.write_text(json.dumps(value))  # stdlib: writes NaN as Python does
    code = main([str(gt_path), str(dt_path), "--iou-type", iou_type])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0].replace(str(tmp_path) + "/", "")


# --- reading rules ---------------------------------------------------------------------


def test_items_and_labels_are_sorted_ids_and_iscrowd_defaults_to_zero(tmp_path: Path) -> None:
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", small_gt())), "bbox")
    assert gt.image_ids == [7, 42, 100]
    assert gt.category_ids == [3, 90]
    assert gt.item.tolist() == [1, 0]
    assert gt.label.tolist() == [0, 1]
    assert gt.iscrowd.tolist() == [False, True]
    assert gt.ignore.tolist() == [False, True]
    assert gt.area.tolist() == [12.0, 18.0]


def test_segm_ground_truth_polygons_and_uncompressed_rle_become_masks(tmp_path: Path) -> None:
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", small_gt())), "segm")
    assert gt.masks is not None
    assert gt.masks.heights.tolist() == [10, 10]
    assert gt.masks.area().tolist() == [16, 6]  # polygon rasterised; RLE as given


def test_result_area_follows_the_first_results_branch(tmp_path: Path) -> None:
    gt_path = str(write_json(tmp_path / "gt.json", small_gt()))
    gt = load_ground_truth(gt_path, "segm")
    with_box = [det(segmentation={"counts": [22, 3, 7, 3, 165], "size": [10, 20]})]
    dt = load_results(str(write_json(tmp_path / "a.json", with_box)), gt)
    assert dt.area.tolist() == [16.0]  # the bbox's w*h, not the mask's 6 pixels
    no_box = [{k: v for k, v in with_box[0].items() if k != "bbox"}]
    dt = load_results(str(write_json(tmp_path / "b.json", no_box)), gt)
    assert dt.area.tolist() == [6.0]
    assert dt.bbox.tolist() == [[2.0, 2.0, 2.0, 3.0]]  # toBbox


def test_keypoint_results_take_area_from_keypoint_extents(tmp_path: Path) -> None:
    gt_dict = small_gt()
    for ann in gt_dict["annotations"]:
        ann["keypoints"] = [0] * 51
        ann["num_keypoints"] = 0
    gt_dict["annotations"][0]["keypoints"][:3] = [2, 2, 2]
    gt_dict["annotations"][0]["num_keypoints"] = 1
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "keypoints")
    assert gt.ignore.tolist() == [False, True]  # num_keypoints == 0, and the crowd region
    kps = [float(v) for _ in range(17) for v in (3, 4, 1)]
    kps[0:2] = [1, 2]
    kps[3:5] = [6, 9]
    result = {"image_id": 7, "category_id": 3, "score": 0.9, "keypoints": kps}
    dt = load_results(str(write_json(tmp_path / "dt.json", [result])), gt)
    assert dt.area.tolist() == [(6 - 1) * (9 - 2)]
    assert dt.bbox.tolist() == [[1.0, 2.0, 5.0, 7.0]]


def test_empty_results_evaluate_to_zero(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    gt_path = write_json(tmp_path / "gt.json", small_gt())
    dt_path = write_json(tmp_path / "dt.json", [])
    assert main([str(gt_path), str(dt_path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["stats"]
    assert stats[0] == 0.0 and stats[8] == 0.0
    assert stats[3] == 0.0 and stats[4] == -1.0  # only a small (non-crowd) object exists


def test_skipped_unknown_categories_are_counted(tmp_path: Path) -> None:
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", small_gt())), "bbox")
    results = [det(), det(category_id=5), det(score=0.7)]
    dt = load_results(
        str(write_json(tmp_path / "dt.json", results)), gt, skip_unknown_categories=True
    )
    assert dt.skipped == 1
    assert dt.row.tolist() == [0, 2]
    assert dt.score.tolist() == [0.5, 0.7]


# --- bad files: exit 2, one line naming the file and the object --------------------------


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([det(), det(image_id=43)], "dt.json: annotation 1 (image_id 43): image_id not in ground truth"),
        ([det(category_id=5)], "dt.json: annotation 0 (image_id 42): category_id not in the ground truth's categories"),
        ([det(bbox=[1, 2, 3])], "dt.json: annotation 0 (image_id 42): bbox must be a list of 4 numbers, got [1, 2, 3]"),
        ([det(), det(score=float("nan"))], "dt.json: annotation 1 (image_id 42): score nan is not a finite number"),
        ([det(bbox=[1, 2, float("inf"), 3])], "dt.json: annotation 0 (image_id 42): bbox [1, 2, inf, 3] is not a finite number"),
        ([det(score="0.9")], "dt.json: annotation 0 (image_id 42): score must be a number, got '0.9'"),
        ([{"image_id": 42, "category_id": 3, "bbox": [1, 1, 2, 2]}], "dt.json: annotation 0 (image_id 42): score is missing"),
        ([det(), {"image_id": 42, "category_id": 3, "score": 1.0}], "dt.json: annotation 1 (image_id 42): bbox is missing"),
        ([{"image_id": 42, "category_id": 3, "score": 1.0}], "dt.json: annotation 0 (image_id 42): a detection needs a bbox, a segmentation or keypoints"),
        ({"annotations": []}, "dt.json: results must be a JSON array of detections"),
        ([det(), 5], "dt.json: annotation 1: must be a JSON object, got 5"),
    ],
)  # fmt: skip
def test_bad_results_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, results: Any, expected: str
) -> None:
    line = bad_file_line(capsys, tmp_path, small_gt(), results)
    assert line.startswith(expected), line


def test_non_json_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = bad_file_line(capsys, tmp_path, small_gt(), b'[{"image_id": 42,,}]')
    assert line.startswith("dt.json: line 1 column 18: not valid JSON"), line
    line = bad_file_line(capsys, tmp_path, small_gt(), b'[{"a": "\xe9"}]')
    assert line == "dt.json: not a JSON file (not UTF-8 text)"


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    gt_path = write_json(tmp_path / "gt.json", small_gt())
    assert main([str(gt_path), str(tmp_path / "nope.json")]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("nope.json: cannot read the file (No such file or directory)")
    )


def test_malformed_rle(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    results = [
        det(segmentation={"counts": "PP3", "size": [10, 20]}),
        det(segmentation={"counts": "0\x7f", "size": [10, 20]}),
    ]
    line = bad_file_line(capsys, tmp_path, small_gt(), results, "segm")
    assert line.startswith("dt.json: annotation 0 (image_id 42): malformed RLE segmentation: "), (
        line
    )


def test_rle_of_another_size(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    results = [det(segmentation={"counts": [0, 50], "size": [5, 10]})]
    line = bad_file_line(capsys, tmp_path, small_gt(), results, "segm")
    assert line == (
        "dt.json: annotation 0 (image_id 42): segmentation size [5, 10] is not the image's size [10, 20]"
    )


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda g: g["annotations"][1].update(image_id=8), "gt.json: annotation 1 (id 2, image_id 8): image_id not in images"),
        (lambda g: g["annotations"][0].update(category_id=4), "gt.json: annotation 0 (id 1, image_id 42): category_id not in categories"),
        (lambda g: g["annotations"][0].pop("area"), "gt.json: annotation 0 (id 1, image_id 42): area is missing"),
        (lambda g: g["images"][1].update(id="7"), "gt.json: image 1 (id '7'): id '7': ids mix numbers and strings"),
        (lambda g: g["images"][1].update(id=[7]), "gt.json: image 1 (id [7]): id must be an integer or a string, got [7]"),
        (lambda g: g.pop("categories"), "gt.json: categories: missing"),
        (lambda g: g["annotations"][0].update(iscrowd="no"), "gt.json: annotation 0 (id 1, image_id 42): iscrowd must be 0 or 1, got 'no'"),
    ],
)  # fmt: skip
def test_bad_ground_truth_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mutate: Any, expected: str
) -> None:
    gt = small_gt()
    mutate(gt)
    line = bad_file_line(capsys, tmp_path, gt, [det()])
    assert line.startswith(expected), line


def test_error_is_typed_with_an_issue_path(tmp_path: Path) -> None:
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", small_gt())), "bbox")
    with pytest.raises(CocoFileError) as info:
        load_results(str(write_json(tmp_path / "dt.json", [det(image_id=1)])), gt)
    assert info.value.issues[0].path.endswith("dt.json: annotation 0 (image_id 1)")
    assert info.value.problem == "image_id not in ground truth"
    assert np.all(gt.item >= 0)


def test_annotation_id_zero_is_evaluated_and_flagged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    gt = small_gt()
    gt["annotations"][0]["id"] = 0
    gt_path = write_json(tmp_path / "gt.json", gt)
    dt_path = write_json(tmp_path / "dt.json", [det()])
    assert main([str(gt_path), str(dt_path), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["stats"][1] == pytest.approx(1.0)  # pycocotools: 0.0
    assert captured.err.splitlines() == [
        f"warning: {gt_path}: annotation 0 (id 0, image_id 42): annotation id 0 - pycocotools "
        "counts a detection matching it as a false positive; this evaluation counts it as a true positive"
    ]


@pytest.mark.parametrize("iou_type", ["bbox", "segm", "keypoints"])
def test_no_annotations_and_no_results_give_minus_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iou_type: str
) -> None:
    gt = {"images": [{"id": 1, "width": 10, "height": 10}], "categories": [{"id": 1}]}
    gt_path = write_json(tmp_path / "gt.json", gt)
    dt_path = write_json(tmp_path / "dt.json", [])
    assert main([str(gt_path), str(dt_path), "--iou-type", iou_type, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stats"] == [-1.0] * (10 if iou_type == "keypoints" else 12)
