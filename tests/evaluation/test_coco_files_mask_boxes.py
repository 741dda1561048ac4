"""Segm results without ``bbox``: areas and boxes from the masks' runs, on the streamed path.

loadRes takes its segm branch when the first detection has no ``bbox`` (or ``[]``): every
detection's area is its mask's pixel count and its box the mask's ``toBbox``. The streamed
reader finds both while it checks each string; these tests hold it to pycocotools itself
(the kernels and the whole evaluation) and to the full reader, and check that it does not
fall back to parsing the whole file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from pycocotools import mask as mask_utils

from bench.cocogen import make_detections, make_ground_truth
from bench.pycoco import pycocotools_stats
from sliceboard.cocofiles import (
    CocoGroundTruth,
    coco_inputs,
    halves,
    load_ground_truth,
    load_results,
    mask_results,
    results,
    slices,
)
from sliceboard.cocofiles.slices import NotStreamable
from sliceboard.evaluation import coco_summary, evaluate
from sliceboard.evaluation.geometry import native
from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.rle_strings import RleStrings
from tests.support.json_files import write_json

TOL = 1e-12


def _pycocotools_area_bbox(rles: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """``mask.area`` and ``mask.toBbox`` of each RLE, one object at a time."""
    own = [
        {
            "size": r["size"],
            "counts": r["counts"].encode() if isinstance(r["counts"], str) else r["counts"],
        }
        for r in rles
    ]
    area = np.array([float(mask_utils.area(r)) for r in own])
    bbox = np.array([mask_utils.toBbox(r) for r in own], dtype=np.float64).reshape(-1, 4)
    return area, bbox


def _edge_case_strings(n: int, seed: int) -> tuple[list[bytes], list[int], list[int]]:
    """Compressed strings of small masks with empty runs, empty masks, odd run counts and
    runs crossing columns: the cases where toBbox's rules show."""
    rng = np.random.default_rng(seed)
    strings, heights, widths = [], [], []
    for _ in range(n):
        h, w = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        cuts = np.sort(rng.integers(0, h * w + 1, int(rng.integers(0, 12))))
        counts = np.diff(np.r_[0, cuts, h * w]).tolist()
        rle = mask_utils.frPyObjects({"counts": counts, "size": [h, w]}, h, w)
        strings.append(rle["counts"])
        heights.append(h)
        widths.append(w)
    return strings, heights, widths


@pytest.mark.parametrize("compiled", [True, False])
def test_string_summaries_equal_pycocotools_area_and_to_bbox(compiled: bool) -> None:
    strings, heights, widths = _edge_case_strings(2000, seed=1)
    masks = RleStrings(
        np.frombuffer(b"".join(strings), dtype=np.uint8),
        np.r_[0, np.cumsum([len(s) for s in strings])].astype(np.int64),
        np.array(heights, np.int64),
        np.array(widths, np.int64),
    )
    rles = [{"counts": s, "size": [h, w]} for s, h, w in zip(strings, heights, widths, strict=True)]
    before = native.set_enabled(compiled)
    try:
        area, bbox = masks.summaries()
    finally:
        native.set_enabled(before)
    assert area.dtype == np.float64 and bbox.shape == (len(rles), 4)
    expected_area, expected_bbox = _pycocotools_area_bbox(rles)
    assert np.array_equal(area, expected_area)
    assert np.array_equal(bbox, expected_bbox)


def test_string_summaries_name_the_first_bad_string() -> None:
    good = mask_utils.encode(np.asfortranarray(np.eye(4, dtype=np.uint8)))["counts"]
    text = good + b"0" + good
    masks = RleStrings(
        np.frombuffer(text, dtype=np.uint8),
        np.array([0, len(good), len(good) + 1, len(text)], np.int64),
        np.array([4, 4, 4], np.int64),
        np.array([4, 4, 4], np.int64),
    )
    with pytest.raises(ValueError, match="mask 1: runs do not add up"):
        masks.summaries()


def _without_boxes(dets: list[dict[str, Any]], first: str = "drop") -> list[dict[str, Any]]:
    out = [{k: v for k, v in d.items() if k != "bbox"} for d in dets]
    if first == "empty":
        out[0]["bbox"] = []
    for d, source in list(zip(out, dets, strict=True))[5::7]:
        d["bbox"] = source["bbox"]  # later boxes are kept by loadRes but never read
    return out


def _no_full_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> Any:
        raise AssertionError("the results file was parsed whole: the streamed reader declined")

    monkeypatch.setattr(results, "parse_json", refuse)


def _our_stats(gt: CocoGroundTruth, dt_path: Path) -> np.ndarray:
    dt = load_results(str(dt_path), gt)
    x = coco_inputs(gt, dt)
    table = evaluate(x.gt, x.dt, x.similarity, x.n_items, x.n_labels, x.options, confusion=False)
    return np.asarray(coco_summary(table, None, "segm").stats, dtype=np.float64)


@pytest.mark.parametrize("first", ["drop", "empty"])
def test_results_without_bbox_match_pycocotools_on_the_streamed_path(
    first: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict = make_ground_truth(40, seed=70)
    dets = _without_boxes(make_detections(gt_dict, seed=71, kind="segm"), first)
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "segm")
    dt_path = write_json(tmp_path / "dt.json", dets)
    expected = pycocotools_stats(gt_dict, dets, "segm")
    _no_full_parse(monkeypatch)
    got = _our_stats(gt, dt_path)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    # the mask areas decide the area ranges: with the box areas the small/medium/large
    # numbers differ, so this case can tell the two branches apart
    boxed = pycocotools_stats(gt_dict, make_detections(gt_dict, seed=71, kind="segm"), "segm")
    assert np.abs(boxed[3:6] - expected[3:6]).max() > 1e-6


def _full(dt_path: Path, gt: CocoGroundTruth, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        m.setattr(results, "streamed_masks", lambda *a: (_ for _ in ()).throw(NotStreamable))
        return load_results(str(dt_path), gt)


@pytest.mark.parametrize("path", ["compiled", "python", "mixed"])
def test_streamed_areas_and_boxes_equal_the_full_reader(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict = make_ground_truth(24, seed=72)
    dets = _without_boxes(make_detections(gt_dict, seed=73, kind="segm"))
    if path == "mixed":  # a float id: the compiled reader declines that slice only
        dets[len(dets) // 2]["image_id"] = float(dets[len(dets) // 2]["image_id"])
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "segm")
    dt_path = write_json(tmp_path / "dt.json", dets)
    full = _full(dt_path, gt, monkeypatch)
    monkeypatch.setattr(slices, "SLICE_BYTES", 2000)
    monkeypatch.setattr(mask_results, "_CHECK_CHARS", 500)  # several checks per part
    if path == "python":
        monkeypatch.setattr(native, "_module", None)
    _no_full_parse(monkeypatch)
    streamed = load_results(str(dt_path), gt)
    assert isinstance(streamed.masks, RleStrings) and isinstance(full.masks, RleBatch)
    for name in ("row", "item", "label", "score", "area", "bbox"):
        assert np.array_equal(getattr(full, name), getattr(streamed, name)), name
    assert np.array_equal(full.masks.counts, streamed.masks.decode().counts)
    expected_area, expected_bbox = _pycocotools_area_bbox([d["segmentation"] for d in dets])
    assert np.array_equal(streamed.area, expected_area)
    assert np.array_equal(streamed.bbox, expected_bbox)


def test_a_child_started_before_the_ground_truth_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict = make_ground_truth(16, seed=74)
    dets = _without_boxes(make_detections(gt_dict, seed=75, kind="segm"))
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "segm")
    text = orjson.dumps(dets)
    monkeypatch.setattr(slices, "SLICE_BYTES", 2000)
    monkeypatch.setattr(halves, "MIN_BYTES", 0)
    started = mask_results.start_masks(text)
    assert started is not None and started.part.area is not None
    early = mask_results.streamed_masks(text, gt, started)
    monkeypatch.setattr(halves, "MIN_BYTES", 1 << 30)
    whole = mask_results.streamed_masks(text, gt)
    assert early.area is not None and whole.area is not None
    assert np.array_equal(early.area, whole.area)
    for a, b in zip(whole.boxes, early.boxes, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    _, expected_bbox = _pycocotools_area_bbox([d["segmentation"] for d in dets])
    assert np.array_equal(whole.boxes.bbox, expected_bbox)


def test_first_detection_decides_the_branch() -> None:
    seg = {"size": [4, 4], "counts": "04L4"}
    assert mask_results.boxes_from_masks(orjson.dumps([{"segmentation": seg}]))
    assert mask_results.boxes_from_masks(orjson.dumps([{"segmentation": seg, "bbox": []}]))
    with_box = [{"segmentation": seg, "bbox": [0, 0, 1, 1]}, {"segmentation": seg}]
    assert not mask_results.boxes_from_masks(orjson.dumps(with_box))
    for text in (b"[]", b'[{"keypoints": [1, 2, 2]}]', b"[1]"):
        with pytest.raises(NotStreamable):
            mask_results.boxes_from_masks(text)


@pytest.mark.parametrize(
    "change",
    [
        {"segmentation": {"size": [10, 10], "counts": "0"}},  # runs that do not fill it
        {"segmentation": [[1.0, 1.0, 5.0, 1.0, 5.0, 5.0]]},
        {"segmentation": None},
    ],
)
def test_without_bbox_anything_unusual_declines(change: dict[str, Any], tmp_path: Path) -> None:
    gt_dict = make_ground_truth(12, seed=76)
    dets = _without_boxes(make_detections(gt_dict, seed=77, kind="segm"))
    dets[-1].update(change)
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "segm")
    with pytest.raises(NotStreamable):
        mask_results.streamed_masks(json.dumps(dets).encode(), gt)


def test_the_first_detection_is_found_without_reading_the_file(tmp_path: Path) -> None:
    """The branch is decided from the first detection's bytes alone: a search for the
    array's end would read (and keep resident) the whole mapped file."""
    first = {"segmentation": {"size": [4, 4], "counts": "04L4"}, "score": 0.5}
    text = orjson.dumps([first])[:-1] + b',{"pad": "' + b"x" * (4 << 20)  # never ends
    assert slices.first_element(text) == first
    assert mask_results.boxes_from_masks(text)
    with pytest.raises(NotStreamable):
        slices.first_element(b"[" + b" " * (2 << 20) + orjson.dumps(first)[1:])
