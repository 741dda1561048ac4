"""`sliceboard evaluate-coco` gives pycocotools' numbers on generated COCO files."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sliceboard.evaluation.geometry.keypoints  # noqa: F401  (missing: fail, never skip)
from bench.cocogen import make_detections, make_ground_truth
from bench.pycoco import per_category, pycocotools_eval, pycocotools_stats
from sliceboard.evaluate_coco import main
from tests.support.json_files import write_json

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-12


def run_json(
    capsys: pytest.CaptureFixture[str], gt: Path, dt: Path, iou_type: str, *extra: str
) -> Any:
    code = main([str(gt), str(dt), "--iou-type", iou_type, "--json", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def assert_parity(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    gt: dict[str, Any],
    dt: list[dict[str, Any]],
    iou_type: str,
) -> Any:
    out = run_json(
        capsys, write_json(tmp_path / "gt.json", gt), write_json(tmp_path / "dt.json", dt), iou_type
    )
    expected = pycocotools_stats(gt, dt, iou_type)
    np.testing.assert_allclose(out["stats"], expected, rtol=0, atol=TOL)
    return out


@pytest.fixture(scope="module")
def small_gt() -> dict[str, Any]:
    return make_ground_truth(40, seed=7)


def test_bbox_stats_and_per_category_match_pycocotools(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_gt: dict[str, Any]
) -> None:
    dt = make_detections(small_gt, seed=8)
    out = assert_parity(capsys, tmp_path, small_gt, dt, "bbox")
    assert len(out["stats"]) == 12
    reference = per_category(pycocotools_eval(small_gt, dt, "bbox"))
    assert [c["categoryId"] for c in out["perCategory"]] == sorted(
        c["id"] for c in small_gt["categories"]
    )
    assert set(out["perCategory"][0]) == {"categoryId", "ap", "ap50", "ap75", "ar100"}
    got = [(c["ap"], c["ap50"], c["ap75"], c["ar100"]) for c in out["perCategory"]]
    np.testing.assert_allclose(got, reference, rtol=0, atol=TOL)
    assert any(c["ap"] == -1 for c in out["perCategory"])  # classes without gt stay -1


def test_string_image_ids_and_empty_images(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    gt = make_ground_truth(30, seed=3, string_ids=True)
    gt["images"].append({"id": "img-zzz-empty", "width": 640, "height": 480})
    assert_parity(capsys, tmp_path, gt, make_detections(gt, seed=4), "bbox")


def test_gt_ignore_field_is_overwritten_by_iscrowd_as_in_pycocotools(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_gt: dict[str, Any]
) -> None:
    gt = copy.deepcopy(small_gt)
    for i, ann in enumerate(gt["annotations"]):
        ann["ignore"] = int(i % 3 == 0)
    assert_parity(capsys, tmp_path, gt, make_detections(gt, seed=5), "bbox")


def test_segm_rle_results_with_box_use_box_area(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_gt: dict[str, Any]
) -> None:
    dt = make_detections(small_gt, seed=9, kind="segm")
    assert all("bbox" in d for d in dt)
    assert_parity(capsys, tmp_path, small_gt, dt, "segm")


def test_segm_results_without_box_use_mask_area(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_gt: dict[str, Any]
) -> None:
    dt = make_detections(small_gt, seed=10, kind="segm")
    for d in dt:
        del d["bbox"]
    assert_parity(capsys, tmp_path, small_gt, dt, "segm")
    assert_parity(capsys, tmp_path, small_gt, dt, "bbox")  # bbox from the mask (toBbox)


def test_segm_results_as_polygons_and_bbox_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_gt: dict[str, Any]
) -> None:
    dt = make_detections(small_gt, seed=11)
    for i, d in enumerate(dt):
        x, y, w, h = d["bbox"]
        if i % 2:  # a polygon of its own; the others get their box as a polygon (loadRes)
            d["segmentation"] = [[x, y + h / 2, x + w / 2, y, x + w, y + h / 2, x + w / 2, y + h]]
    assert_parity(capsys, tmp_path, small_gt, dt, "segm")


def test_more_than_max_dets_per_image_and_category_with_score_ties(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rng = np.random.default_rng(31)
    gt = make_ground_truth(6, seed=30)
    for ann in gt["annotations"]:
        ann["category_id"] = 1 if ann["id"] % 2 else 2
    dt = []
    for img in gt["images"]:
        for _ in range(130):
            x, y, w, h = rng.uniform(0, 400, 4).tolist()
            score = round(float(rng.uniform()), 1)  # many exact ties
            dt.append({"image_id": img["id"], "category_id": int(rng.integers(1, 3)),
                       "bbox": [x, y, w, h], "score": score})  # fmt: skip
        for ann in gt["annotations"]:
            if ann["image_id"] == img["id"]:
                dt.append({"image_id": img["id"], "category_id": ann["category_id"],
                           "bbox": ann["bbox"], "score": 0.5})  # fmt: skip
    assert_parity(capsys, tmp_path, gt, dt, "bbox")


def test_skip_unknown_categories_drops_them_like_pycocotools(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_gt: dict[str, Any]
) -> None:
    dt = make_detections(small_gt, seed=12)
    for d in dt[::7]:
        d["category_id"] = 999
    gt_path = write_json(tmp_path / "gt.json", small_gt)
    dt_path = write_json(tmp_path / "dt.json", dt)
    code = main([str(gt_path), str(dt_path), "--json", "--skip-unknown-categories"])
    captured = capsys.readouterr()
    assert code == 0
    expected = pycocotools_stats(small_gt, dt, "bbox")
    np.testing.assert_allclose(json.loads(captured.out)["stats"], expected, rtol=0, atol=TOL)
    skipped = len(dt[::7])
    assert captured.err == (
        f"warning: {dt_path}: skipped {skipped} detection(s) of categories not in the ground truth\n"
    )


@pytest.mark.parametrize("iou_type", ["bbox", "keypoints"])
def test_text_output_is_pycocotools_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iou_type: str
) -> None:
    keypoints = iou_type == "keypoints"
    gt = make_ground_truth(30, seed=15, keypoints=keypoints)
    dt = make_detections(gt, seed=16, kind=iou_type)
    gt_path = write_json(tmp_path / "gt.json", gt)
    dt_path = write_json(tmp_path / "dt.json", dt)
    assert main([str(gt_path), str(dt_path), "--iou-type", iou_type]) == 0
    ours = capsys.readouterr().out.splitlines()
    buffer = io.StringIO()
    ev = pycocotools_eval(gt, dt, iou_type)
    with contextlib.redirect_stdout(buffer):
        ev.summarize()
    assert ours == buffer.getvalue().splitlines()
    assert len(ours) == (10 if keypoints else 12)


@pytest.mark.parametrize(
    "entry",
    [
        "runpy.run_module('sliceboard.evaluate_coco', run_name='__main__')",
        "from sliceboard.cli import main; sys.exit(main(['evaluate-coco', *sys.argv[1:]]))",
    ],
)
def test_command_runs_without_the_web_stack(
    tmp_path: Path, small_gt: dict[str, Any], entry: str
) -> None:
    gt_path = write_json(tmp_path / "gt.json", small_gt)
    dt_path = write_json(tmp_path / "dt.json", make_detections(small_gt, seed=14))
    probe = (
        "import os, sys, runpy\n"
        "os._exit = sys.exit  # python -m skips teardown; the probe still looks at sys.modules\n"
        f"sys.argv = ['x', {str(gt_path)!r}, {str(dt_path)!r}, '--iou-type', 'bbox', '--json']\n"
        "try:\n"
        f"    {entry}\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'strawberry', 'starlette', 'sqlalchemy', 'sqlmodel', 'uvicorn', 'aiosqlite', 'asyncpg', "
        "'pycocotools', 'shapely', 'schema'})\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert json.loads(lines[0])["stats"]
    assert lines[-1] == "HEAVY []"


def test_python_m_entry_point(tmp_path: Path, small_gt: dict[str, Any]) -> None:
    gt_path = write_json(tmp_path / "gt.json", small_gt)
    dt_path = write_json(tmp_path / "dt.json", [{"image_id": 0, "category_id": 1, "score": 1}])
    proc = subprocess.run(
        [sys.executable, "-m", "sliceboard.evaluate_coco", str(gt_path), str(dt_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == f"{dt_path}: annotation 0 (image_id 0): image_id not in ground truth"
    )


@pytest.fixture(scope="module")
def keypoint_gt() -> dict[str, Any]:
    return make_ground_truth(60, seed=21, keypoints=True)


def test_keypoints_match_pycocotools(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, keypoint_gt: dict[str, Any]
) -> None:
    dt = make_detections(keypoint_gt, seed=22, kind="keypoints")
    assert any(a["num_keypoints"] == 0 for a in keypoint_gt["annotations"])
    out = assert_parity(capsys, tmp_path, keypoint_gt, dt, "keypoints")
    assert len(out["stats"]) == 10
    assert set(out["perCategory"][0]) == {"categoryId", "ap", "ap50", "ap75", "ar100", "ar20"}
    assert all(c["ar100"] == c["ar20"] for c in out["perCategory"])


def test_keypoint_results_with_boxes_take_the_box_area(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, keypoint_gt: dict[str, Any]
) -> None:
    dt = make_detections(keypoint_gt, seed=23, kind="keypoints")
    for d in dt:
        x, y = d["keypoints"][0::3], d["keypoints"][1::3]
        d["bbox"] = [min(x) - 5, min(y) - 5, max(x) - min(x) + 10, max(y) - min(y) + 10]
    assert_parity(capsys, tmp_path, keypoint_gt, dt, "keypoints")
