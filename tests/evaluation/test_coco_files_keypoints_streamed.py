"""Keypoints files read slice by slice: the same arrays as the full readers, and pycocotools'
numbers, without parsing either file whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.cocogen import make_detections, make_ground_truth
from bench.pycoco import pycocotools_stats
from sliceboard.cocofiles import (
    coco_inputs,
    ground_truth,
    halves,
    keypoint_results,
    load_ground_truth,
    load_results,
    results,
    slices,
)
from sliceboard.cocofiles.slices import NotStreamable
from sliceboard.evaluation import coco_summary, evaluate
from tests.support.json_files import write_json

TOL = 1e-12


def _case(tmp_path: Path, seed: int, n_images: int = 30) -> tuple[dict[str, Any], list[Any]]:
    gt = make_ground_truth(n_images, seed=seed, keypoints=True)
    return gt, make_detections(gt, seed=seed + 1, kind="keypoints")


def _refuse_whole_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> Any:
        raise AssertionError("a file was parsed whole: a streamed reader declined")

    monkeypatch.setattr(results, "parse_json", refuse)
    monkeypatch.setattr(ground_truth, "parse_json", refuse)


def _decline(*args: Any) -> Any:
    raise NotStreamable


@pytest.mark.parametrize("boxes", [False, True])
def test_streamed_keypoints_match_pycocotools(
    boxes: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict, dets = _case(tmp_path, 80)
    if boxes:  # loadRes' bbox branch: area is w * h of the given box
        for d in dets:
            kps = np.asarray(d["keypoints"]).reshape(-1, 3)
            lo = kps[:, :2].min(axis=0)
            d["bbox"] = [float(lo[0]), float(lo[1]), 30.0, 20.0]
    expected = pycocotools_stats(gt_dict, dets, "keypoints")
    gt_path = write_json(tmp_path / "gt.json", gt_dict)
    dt_path = write_json(tmp_path / "dt.json", dets)
    _refuse_whole_parse(monkeypatch)
    gt = load_ground_truth(str(gt_path), "keypoints")
    dt = load_results(str(dt_path), gt)
    x = coco_inputs(gt, dt)
    table = evaluate(x.gt, x.dt, x.similarity, x.n_items, x.n_labels, x.options, confusion=False)
    got = np.asarray(coco_summary(table, None, "keypoints").stats, dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)


@pytest.mark.parametrize("forked", [False, True])
def test_streamed_keypoints_equal_the_full_readers(
    forked: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict, dets = _case(tmp_path, 82, n_images=40)
    dets[3]["keypoints"][0] = 7  # an integer among floats
    gt_path = write_json(tmp_path / "gt.json", gt_dict)
    dt_path = write_json(tmp_path / "dt.json", dets)
    with monkeypatch.context() as m:
        m.setattr(ground_truth, "_streamed_boxes", _decline)
        m.setattr(results, "streamed_keypoints", _decline)
        full_gt = load_ground_truth(str(gt_path), "keypoints")
        full_dt = load_results(str(dt_path), full_gt)
    monkeypatch.setattr(slices, "SLICE_BYTES", 3000)
    if forked:
        monkeypatch.setattr(halves, "MIN_BYTES", 0)
    _refuse_whole_parse(monkeypatch)
    gt = load_ground_truth(str(gt_path), "keypoints")
    dt = load_results(str(dt_path), gt)
    for name in ("item", "label", "area", "iscrowd", "ignore", "bbox", "keypoints"):
        a, b = getattr(full_gt, name), getattr(gt, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert gt.ignore.any() and not gt.iscrowd.all()  # objects without keypoints are ignored
    for name in ("row", "item", "label", "score", "area", "bbox", "keypoints"):
        a, b = getattr(full_dt, name), getattr(dt, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name


@pytest.mark.parametrize(
    "change",
    [
        {"keypoints": [1.0, 2.0, 2.0]},
        {"keypoints": None},
        {"keypoints": [float("nan")] * 51},
        {"keypoints": ["1"] * 51},
        {"image_id": -5},
        {"category_id": 999},
        {"score": "high"},
    ],
)
def test_streamed_keypoints_decline_anything_unusual(
    change: dict[str, Any], tmp_path: Path
) -> None:
    gt_dict, dets = _case(tmp_path, 84, n_images=10)
    dets[-1].update(change)
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "keypoints")
    with pytest.raises(NotStreamable):
        keypoint_results.streamed_keypoints(json.dumps(dets).encode(), gt)


def test_segmentation_first_is_for_the_full_reader() -> None:
    with pytest.raises(NotStreamable):
        keypoint_results.boxes_given(b'[{"segmentation": [[1, 2, 3, 4, 5, 6]], "keypoints": []}]')
    assert keypoint_results.boxes_given(b'[{"bbox": [1, 2, 3, 4], "keypoints": []}]')
    assert not keypoint_results.boxes_given(b'[{"bbox": [], "keypoints": []}]')


def test_a_child_started_before_the_ground_truth_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict, dets = _case(tmp_path, 86, n_images=30)
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "keypoints")
    text = json.dumps(dets).encode()
    monkeypatch.setattr(slices, "SLICE_BYTES", 3000)
    monkeypatch.setattr(halves, "MIN_BYTES", 0)
    started = keypoint_results.start_keypoints(text)
    assert started is not None
    early = keypoint_results.streamed_keypoints(text, gt, started)
    monkeypatch.setattr(halves, "MIN_BYTES", 1 << 30)
    whole = keypoint_results.streamed_keypoints(text, gt)
    for a, b in zip((*whole.boxes, whole.area, whole.keypoints),
                    (*early.boxes, early.area, early.keypoints), strict=True):  # fmt: skip
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert whole.keypoints.shape == (len(dets), 51)


def test_start_results_hands_its_keypoints_child_to_load_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict, dets = _case(tmp_path, 88, n_images=30)
    gt_path = write_json(tmp_path / "gt.json", gt_dict)
    dt_path = write_json(tmp_path / "dt.json", dets)
    monkeypatch.setattr(halves, "MIN_BYTES", 0)
    early = results.start_results(str(dt_path), "keypoints")
    assert early is not None and early.keypoints is not None
    gt = load_ground_truth(str(gt_path), "keypoints")
    one = load_results(str(dt_path), gt, early=early)
    assert early.keypoints is None  # taken over
    two = load_results(str(dt_path), gt)
    for name in ("row", "item", "label", "score", "area", "bbox", "keypoints"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
