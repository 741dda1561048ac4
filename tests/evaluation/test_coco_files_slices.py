"""Slice-by-slice reading: the same elements as one parse, and a refusal whenever unsure."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from pycocotools import mask as mask_utils

from bench.cocogen import make_detections, make_ground_truth
from sliceboard.cocofiles import (
    CocoFileError,
    box_results,
    ground_truth,
    halves,
    load_ground_truth,
    load_results,
    mask_results,
    results,
    slices,
)
from sliceboard.cocofiles.box_results import streamed_boxes
from sliceboard.cocofiles.columns import GrowingColumn
from sliceboard.cocofiles.slices import MemberSlices, NotStreamable, array_slices
from sliceboard.evaluation.geometry import native
from sliceboard.evaluation.geometry.rle import RleBatch
from sliceboard.evaluation.geometry.rle_strings import RleStrings
from tests.support.json_files import write_json

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


@pytest.mark.parametrize(
    "text",
    [
        b'{"info": {"x": "}]"}, "annotations": [{"a": "},{"}, {"b": [{}]}, {}], "images": []}',
        b'{"annotations":[ ],"images":[{"id":1}]}',
        b'{"annotations": [{"a": 1}]}',
    ],
)
def test_member_slices_and_the_rest_equal_one_parse(text: bytes) -> None:
    whole = orjson.loads(text)
    member = MemberSlices(text, "annotations", 1)
    assert [item for part in member for item in part] == whole.pop("annotations")
    assert member.rest() == whole


@pytest.mark.parametrize(
    "text",
    [
        b'{"info": {"annotations": [{}]}, "images": []}',  # not a top-level member
        b'{"info": {"annotations": [{}]}, "annotations": [{}, {}]}',
        b'{"annotations": [{}], "annotations": [{}, {}]}',  # repeated
        b'{"annotations": [{"a": 1}, {"a": NaN}]}',
        b'{"annotations": [{"a": 1}]',
        b'{"images": []}',
    ],
)
def test_member_slices_refuse_an_unusual_layout(text: bytes) -> None:
    with pytest.raises(NotStreamable):
        member = MemberSlices(text, "annotations", 1)
        for _ in member:
            pass
        member.rest()


def test_sliced_readers_equal_the_full_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict = make_ground_truth(20, seed=9)
    gt_dict["annotations"][5]["id"] = 0
    gt_dict["annotations"][6]["bbox"] = [1, 2, 3, 4]
    gt_dict["annotations"][7]["extra"] = [{"note": "}],{"}]
    gt_dict["info"] = {"annotations": "no"}
    dets = make_detections(gt_dict, seed=10)
    gt_path = write_json(tmp_path / "gt.json", gt_dict)
    dt_path = write_json(tmp_path / "dt.json", dets)
    monkeypatch.setattr(slices, "SLICE_BYTES", 3000)
    sliced_gt = load_ground_truth(str(gt_path), "bbox")
    sliced_dt = load_results(str(dt_path), sliced_gt)
    # both files take the sliced path (these raise NotStreamable if they decline)
    ground_truth._streamed_boxes(str(gt_path), gt_path.read_bytes())
    streamed_boxes(dt_path.read_bytes(), sliced_gt)

    def decline(*args: Any) -> Any:
        raise NotStreamable

    monkeypatch.setattr(ground_truth, "_streamed_boxes", decline)
    monkeypatch.setattr(results, "streamed_boxes", decline)
    full_gt = load_ground_truth(str(gt_path), "bbox")
    full_dt = load_results(str(dt_path), full_gt)
    assert full_gt.warnings == sliced_gt.warnings and len(full_gt.warnings) == 1
    assert full_gt.image_ids == sliced_gt.image_ids
    assert full_gt.category_ids == sliced_gt.category_ids
    for name in ("item", "label", "area", "iscrowd", "ignore", "bbox", "image_heights"):
        assert np.array_equal(getattr(full_gt, name), getattr(sliced_gt, name)), name
    for name in ("row", "item", "label", "score", "area", "bbox"):
        assert np.array_equal(getattr(full_dt, name), getattr(sliced_dt, name)), name


def test_growing_column_keeps_every_slice_in_order_past_its_capacity() -> None:
    boxes = GrowingColumn(2, np.float64, 4)
    ids = GrowingColumn(1, np.int64)
    rows = np.arange(28, dtype=np.float64).reshape(7, 4)
    for start, stop in ((0, 0), (0, 3), (3, 4), (4, 7)):
        boxes.extend(rows[start:stop])
        ids.extend(np.arange(start, stop))
    assert boxes.array().tolist() == rows.tolist()
    assert ids.array().tolist() == list(range(7))


@pytest.mark.parametrize("image_id", [2**64 - 1, "1", 1.5])
def test_sliced_ground_truth_leaves_unusual_ids_to_the_full_reader(
    tmp_path: Path, image_id: Any
) -> None:
    gt_dict = make_ground_truth(4, seed=11)
    gt_dict["annotations"][-1]["image_id"] = image_id
    gt_path = write_json(tmp_path / "gt.json", gt_dict)
    with pytest.raises(NotStreamable):
        ground_truth._streamed_boxes(str(gt_path), gt_path.read_bytes())
    with pytest.raises(CocoFileError, match="image_id not in images"):
        load_ground_truth(str(gt_path), "bbox")


def _segm_case(tmp_path: Path, seed: int) -> tuple[Any, list[dict[str, Any]]]:
    gt_dict = make_ground_truth(12, seed=seed)
    dets = make_detections(gt_dict, seed=seed + 1, kind="segm")
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "segm")
    return gt, dets


def test_streamed_masks_equal_the_full_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt, dets = _segm_case(tmp_path, 20)
    dets[2]["bbox"] = [1, 2, 3, 4]
    dets[3]["extra"] = {"nested": [{"x": "},{"}]}
    dt_path = write_json(tmp_path / "dt.json", dets)
    monkeypatch.setattr(slices, "SLICE_BYTES", 2000)
    monkeypatch.setattr(mask_results, "_CHECK_CHARS", 500)  # several checks per file
    mask_results.streamed_masks(dt_path.read_bytes(), gt)  # raises if it declined
    streamed = load_results(str(dt_path), gt)

    def decline(*args: Any) -> Any:
        raise NotStreamable

    monkeypatch.setattr(results, "streamed_masks", decline)
    full = load_results(str(dt_path), gt)
    for name in ("row", "item", "label", "score", "area", "bbox"):
        assert np.array_equal(getattr(full, name), getattr(streamed, name)), name
    assert isinstance(full.masks, RleBatch) and isinstance(streamed.masks, RleStrings)
    decoded = streamed.masks.decode()
    for name in ("counts", "offsets", "heights", "widths"):
        assert np.array_equal(getattr(full.masks, name), getattr(decoded, name)), name
    texts = [d["segmentation"]["counts"] for d in dets]
    assert [s.decode() for s in streamed.masks.strings()] == texts


def test_streamed_masks_mix_compiled_and_python_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slice the compiled reader declines (a bool in a bbox, which numpy reads as 1.0)
    is read by the Python path between compiled slices; the strings of both are checked
    once and the columns equal the full reader's."""
    gt, dets = _segm_case(tmp_path, 21)
    dets[len(dets) // 2]["bbox"][0] = True
    dt_path = write_json(tmp_path / "dt.json", dets)
    monkeypatch.setattr(slices, "SLICE_BYTES", 2000)
    streamed = load_results(str(dt_path), gt)
    monkeypatch.setattr(results, "streamed_masks", lambda *a: (_ for _ in ()).throw(NotStreamable))
    full = load_results(str(dt_path), gt)
    for name in ("row", "item", "label", "score", "area", "bbox"):
        assert np.array_equal(getattr(full, name), getattr(streamed, name)), name
    assert isinstance(full.masks, RleBatch) and isinstance(streamed.masks, RleStrings)
    assert np.array_equal(full.masks.counts, streamed.masks.decode().counts)


@pytest.mark.parametrize(
    "change",
    [
        {"segmentation": [[1.0, 1.0, 5.0, 1.0, 5.0, 5.0]]},
        {"segmentation": {"size": "SIZE", "counts": [0, 100]}},
        {"segmentation": {"size": "SIZE", "counts": "PP3"}},
        {"segmentation": {"size": "SIZE", "counts": "0\x7f"}},
        {"segmentation": {"size": [10, 10], "counts": "0"}},
        {"segmentation": {"counts": "0"}},
        {"segmentation": {"size": [10, True], "counts": "0"}},
        {"segmentation": {"size": [10], "counts": "0"}},
        {"segmentation": None},
        {"bbox": []},
        {"image_id": -5},
        {"category_id": 999},
    ],
)
def test_streamed_masks_decline_anything_unusual(change: dict[str, Any], tmp_path: Path) -> None:
    gt, dets = _segm_case(tmp_path, 22)
    size = dets[-1]["segmentation"]["size"]
    dets[-1].update(change)
    segmentation = dets[-1]["segmentation"]
    if isinstance(segmentation, dict) and segmentation.get("size") == "SIZE":
        segmentation["size"] = size
    with pytest.raises(NotStreamable):
        mask_results.streamed_masks(json.dumps(dets).encode(), gt)


def test_streamed_masks_decline_runs_that_do_not_fill_the_image(tmp_path: Path) -> None:
    gt, dets = _segm_case(tmp_path, 24)
    seg = dets[-1]["segmentation"]
    h, w = seg["size"]
    dets[-1]["segmentation"] = {"size": [h, w], "counts": "0"}  # one empty run
    with pytest.raises(NotStreamable):
        mask_results.streamed_masks(json.dumps(dets).encode(), gt)
    with pytest.raises(CocoFileError, match="malformed RLE segmentation"):
        load_results(str(write_json(tmp_path / "dt.json", dets)), gt)


def test_middle_cut_splits_into_the_arrays_elements() -> None:
    text = orjson.dumps([{"a": i, "s": "],[" * (i % 3), "t": {"u": [1]}} for i in range(300)])
    for slice_bytes in (1, 50, 1 << 20):
        cut = slices.middle_cut(text)
        assert cut is not None
        before = [x for part in array_slices(text, slice_bytes, cut=cut) for x in part]
        after = [x for part in slices.slices_after(text, cut, slice_bytes) for x in part]
        assert before and after and before + after == orjson.loads(text)


def test_a_cut_inside_a_string_is_refused() -> None:
    text = orjson.dumps([{"a": 1}, {"s": "x" * 50 + "},{" + "x" * 50}, {"b": 2}])
    cut = slices.middle_cut(text)
    assert cut is not None and text[cut.close - 1 : cut.close] == b"x"
    with pytest.raises(NotStreamable):
        list(array_slices(text, 1, cut=cut))


@pytest.mark.parametrize("kind", ["bbox", "segm"])
def test_two_process_reading_equals_one(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict = make_ground_truth(16, seed=30)
    dets = make_detections(gt_dict, seed=31, kind=kind)
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), kind)  # type: ignore[arg-type]
    dt_path = write_json(tmp_path / "dt.json", dets)
    monkeypatch.setattr(slices, "SLICE_BYTES", 2000)
    monkeypatch.setattr(halves, "MIN_BYTES", 1 << 30)
    one = load_results(str(dt_path), gt)
    monkeypatch.setattr(halves, "MIN_BYTES", 0)
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counting_fork)
    two = load_results(str(dt_path), gt)
    assert forks == [1]
    for name in ("row", "item", "label", "score", "area", "bbox"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
    if kind == "segm":
        assert one.masks is not None and two.masks is not None
        for name in ("chars", "offsets", "heights", "widths"):
            assert np.array_equal(getattr(one.masks, name), getattr(two.masks, name)), name


def test_a_failing_child_leaves_its_half_to_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict = make_ground_truth(16, seed=32)
    dets = make_detections(gt_dict, seed=33)
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "bbox")
    text = orjson.dumps(dets)
    whole = streamed_boxes(text, gt)
    monkeypatch.setattr(halves, "MIN_BYTES", 0)
    real_after = slices.slices_after
    parent = os.getpid()

    def failing_in_child(*args: Any, **kwargs: Any) -> Any:
        if os.getpid() != parent:
            raise RuntimeError("child fails")
        return real_after(*args, **kwargs)

    monkeypatch.setattr(halves, "slices_after", failing_in_child)
    split = streamed_boxes(text, gt)
    for a, b in zip(whole, split, strict=True):
        assert np.array_equal(a, b)


def test_a_mapped_file_reads_the_same_while_its_pages_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sliceboard.cocofiles.columns import map_file

    elements = [{"a": i, "s": "x" * (i % 50)} for i in range(3000)]
    path = tmp_path / "dt.json"
    path.write_bytes(orjson.dumps(elements))
    monkeypatch.setattr(slices, "_RELEASE_BYTES", 0)
    mapped = map_file(str(path))
    assert not isinstance(mapped, bytes)
    read = [x for part in array_slices(mapped, 1000) for x in part]
    assert read == elements
    assert bytes(mapped[:]) == path.read_bytes()  # dropped pages read back from the file


def early_columns(text: bytes, gt: Any) -> Any:
    """streamed_boxes with the later part read by a child started before ``gt`` was given."""
    started = box_results.start_boxes(text)
    assert started is not None
    return streamed_boxes(text, gt, started)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"image_id": "7"},  # the child declines (not an integer id): this process reads its part
        {"image_id": 1.0},  # a float id: pycocotools' dict lookup finds image 1
        {"image_id": 10**6},  # not in the ground truth: the full reader names it
        {"category_id": True},
    ],
)
def test_a_child_started_before_the_ground_truth_reads_the_same(
    change: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict = make_ground_truth(16, seed=40)
    dets = make_detections(gt_dict, seed=41)
    dets[-2].update(change)  # in the child's part
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "bbox")
    text = json.dumps(dets).encode()
    monkeypatch.setattr(slices, "SLICE_BYTES", 2000)
    monkeypatch.setattr(halves, "MIN_BYTES", 1 << 30)
    try:
        whole: Any = streamed_boxes(text, gt)
    except NotStreamable:
        whole = NotStreamable
    monkeypatch.setattr(halves, "MIN_BYTES", 0)
    if whole is NotStreamable:
        with pytest.raises(NotStreamable):
            early_columns(text, gt)
        return
    for a, b in zip(whole, early_columns(text, gt), strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_the_command_reads_results_early_and_cancels_on_a_bad_ground_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict = make_ground_truth(16, seed=42)
    dt_path = write_json(tmp_path / "dt.json", make_detections(gt_dict, seed=43))
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "bbox")
    monkeypatch.setattr(halves, "MIN_BYTES", 0)
    early = results.start_results(str(dt_path), "bbox")
    assert early is not None and early.boxes is not None
    pid = early.boxes.pid
    early.cancel()  # e.g. the ground truth could not be read
    assert early.boxes is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # reaped
    early = results.start_results(str(dt_path), "bbox")
    monkeypatch.setattr(halves, "MIN_BYTES", 1 << 30)
    one = load_results(str(dt_path), gt)
    two = load_results(str(dt_path), gt, early=early)
    assert early is not None and early.boxes is None  # taken over
    for name in ("row", "item", "label", "score", "area", "bbox"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name


@pytest.mark.parametrize("wrong_size", [False, True])
def test_a_segm_child_started_before_the_ground_truth_reads_the_same(
    wrong_size: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt_dict = make_ground_truth(16, seed=44)
    dets = make_detections(gt_dict, seed=45, kind="segm")
    if wrong_size:  # in the child's part: checked against the image once the ids are known
        height, width = dets[-2]["segmentation"]["size"]
        dets[-2]["segmentation"] = mask_utils.encode(
            np.asfortranarray(np.zeros((height + 1, width), dtype=np.uint8))
        )
        dets[-2]["segmentation"]["counts"] = dets[-2]["segmentation"]["counts"].decode()
    gt = load_ground_truth(str(write_json(tmp_path / "gt.json", gt_dict)), "segm")
    text = orjson.dumps(dets)
    monkeypatch.setattr(slices, "SLICE_BYTES", 2000)
    monkeypatch.setattr(halves, "MIN_BYTES", 0)
    started = mask_results.start_masks(text)
    assert started is not None
    if wrong_size:
        with pytest.raises(NotStreamable):
            mask_results.streamed_masks(text, gt, started)
        return
    early = mask_results.streamed_masks(text, gt, started)
    monkeypatch.setattr(halves, "MIN_BYTES", 1 << 30)
    whole = mask_results.streamed_masks(text, gt)
    for a, b in zip(whole.boxes, early.boxes, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    for name in ("chars", "offsets", "heights", "widths"):
        assert np.array_equal(getattr(whole.masks, name), getattr(early.masks, name)), name


def _slice_outcome(items: list[Any], gt: Any) -> Any:
    try:
        return tuple(np.asarray(c) for c in box_results.slice_columns(items, gt))
    except NotStreamable:
        return "not streamable"


_PLAIN = {"image_id": 1, "category_id": 1, "score": 0.5, "bbox": [1.0, 2, 3.5, 4]}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"score": 1},
        {"score": 2**70},
        {"score": True},
        {"score": "0.5"},
        {"bbox": [1, 2, 3, 4]},
        {"bbox": [True, 2.0, 3.0, 4.0]},
        {"bbox": [2**63, 2.0, 3.0, 4.0]},
        {"bbox": [2**70, 2, 3, 4]},
        {"bbox": [1.0, 2.0, 3.0]},
        {"bbox": (1.0, 2.0, 3.0, 4.0)},
        {"bbox": [1.0, 2.0, 3.0, "4"]},
        {"image_id": True},
        {"image_id": 2**64},
        {"image_id": "1"},
        {"category_id": 1.0},
        {"image_id": None},
    ],
)
@pytest.mark.parametrize("with_gt", [False, True])
def test_box_slice_columns_compiled_equal_python(
    change: dict[str, Any], with_gt: bool, tmp_path: Path
) -> None:
    """The compiled slice reader takes the plain case and declines the rest to the Python
    reader, so both give the same columns (or both decline the slice)."""
    gt = (
        load_ground_truth(
            str(write_json(tmp_path / "gt.json", make_ground_truth(3, seed=5))), "bbox"
        )
        if with_gt
        else None
    )
    items = [dict(_PLAIN), dict(_PLAIN, image_id=2), dict(_PLAIN) | change, dict(_PLAIN)]
    with_c = native.set_enabled(True)
    try:
        assert native.enabled() or os.environ.get("SLICEBOARD_NATIVE") == "0"
        fast = _slice_outcome(items, gt)
        native.set_enabled(False)
        slow = _slice_outcome(items, gt)
    finally:
        native.set_enabled(with_c)
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert not isinstance(fast, str)
        for a, b in zip(fast, slow, strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b)
