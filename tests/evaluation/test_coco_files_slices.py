"""Slice-by-slice reading: the same elements as one parse, and a refusal whenever unsure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from bench.cocogen import make_detections, make_ground_truth
from server.cocofiles import load_ground_truth, load_results
from server.cocofiles.box_results import streamed_boxes
from server.cocofiles.slices import NotStreamable, array_slices
from tests.evaluation.data.pycoco import write_json

TRICKY = [
    {"a": "},{", "b": [{"x": 1}, {"y": "\\"}]},
    {"s": '"},{"', "n": [[{}, {}], {"k": {"c": 1}}]},
    {},
    {"t": "}, {"},
]


@pytest.mark.parametrize("slice_bytes", [1, 2, 7, 30, 1 << 20])
@pytest.mark.parametrize(
    "text",
    [
        orjson.dumps(TRICKY),
        json.dumps(TRICKY).encode(),
        json.dumps(TRICKY, indent=2).encode(),
        b"  [ ]\n",
    ],
)
def test_slices_hold_exactly_the_arrays_elements(text: bytes, slice_bytes: int) -> None:
    slices = list(array_slices(text, slice_bytes))
    assert [item for part in slices for item in part] == orjson.loads(text)
    if slice_bytes == 1 and len(orjson.loads(text)) > 1:
        assert len(slices) > 1


@pytest.mark.parametrize(
    "text", [b'{"a": [1]}', b"[1, 2", b'[{"a": 1}, {"a": NaN}]', b"[] []", b"", b'[{"a": 1}] [{}]']
)
def test_slices_refuse_what_is_not_one_valid_array(text: bytes) -> None:
    with pytest.raises(NotStreamable):
        list(array_slices(text, 1))


def test_streamed_boxes_equal_the_full_reader(tmp_path: Path) -> None:
    gt_dict = make_ground_truth(30, seed=5)
    dets = make_detections(gt_dict, seed=6)
    dets[3]["bbox"] = [1, 2, 3, 4]  # integers among floats
    dets[4]["extra"] = {"nested": [{"x": "},{"}]}
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "bbox")
    dt_path = write_json(tmp_path / "dt.json", dets)
    columns = streamed_boxes(dt_path.read_bytes(), gt)  # raises if it declined
    streamed = load_results(str(dt_path), gt)
    assert len(streamed) == len(dets)
    assert streamed.item.tolist() == [gt.image_ids.index(d["image_id"]) for d in dets]
    assert streamed.label.tolist() == [gt.category_ids.index(d["category_id"]) for d in dets]
    assert streamed.score.tolist() == [float(d["score"]) for d in dets]
    assert streamed.bbox.tolist() == [[float(v) for v in d["bbox"]] for d in dets]
    assert np.array_equal(streamed.area, streamed.bbox[:, 2] * streamed.bbox[:, 3])
    assert np.array_equal(columns.bbox, streamed.bbox)


@pytest.mark.parametrize(
    "change",
    [
        {"score": True},
        {"score": "0.5"},
        {"bbox": [1, 2, 3]},
        {"bbox": (1, 2, 3, "4")},
        {"bbox": [1, 2, 3, 10**400]},
        {"image_id": -5},
        {"category_id": 999},
        {"score": None},
        {"score": 10**400},
        {"score": float("nan")},
    ],
)
def test_streamed_boxes_decline_anything_unusual(change: dict[str, Any], tmp_path: Path) -> None:
    gt_dict = make_ground_truth(4, seed=7)
    dets = make_detections(gt_dict, seed=8)
    dets[-1].update(change)
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "bbox")
    text = json.dumps(dets).encode()  # stdlib: big integers and tuples as JSON
    with pytest.raises(NotStreamable):
        streamed_boxes(text, gt)
