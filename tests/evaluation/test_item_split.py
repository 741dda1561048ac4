"""Two item parts evaluated apart and joined give the table of one evaluation.

Covers the pure join (every protocol and label option, shuffled and item-sorted
inputs, uneven and empty parts) and the two-process path of the command line
(forked child, its failure, a failed fork), compared field by field - the order
fields (dt_metric_order, dt_rank) included; sparse fields by value.
"""

from __future__ import annotations

import os
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

import sliceboard.cocofiles.forked_evaluate as forked
from sliceboard.cocofiles import coco_inputs, load_ground_truth, load_results
from sliceboard.evaluation import (
    EvaluationInputError,
    GroundTruth,
    MatchOptions,
    MatchTable,
    Predictions,
    coco_summary,
    evaluate,
)
from sliceboard.evaluation.geometry.boxes import box_similarity
from sliceboard.evaluation.item_split import join_tables, split_items
from sliceboard.evaluation.sparse_rows import SparseRows
from tests.support.coco_cases import PROTOCOL_OPTIONS, case_inputs, make_case

OPTIONS = PROTOCOL_OPTIONS


def assert_same_table(one: MatchTable, two: MatchTable) -> None:
    for f in fields(MatchTable):
        a, b = getattr(one, f.name), getattr(two, f.name)
        if isinstance(a, SparseRows):
            assert a.shape == b.shape and a.fill == b.fill, f.name
            assert np.array_equal(a.row_start, b.row_start), f.name
            assert a.value.dtype == b.value.dtype, f.name
            for x, y in zip(a._sorted, b._sorted, strict=True):  # entry order is unspecified
                assert np.array_equal(x, y), f.name
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, f.name
            assert np.array_equal(a, b), f.name
        else:
            assert a == b, f.name


def shuffled(
    gt: GroundTruth, dt: Predictions, similarity: Any, seed: int
) -> tuple[GroundTruth, Predictions, Any]:
    """The same objects in another input order (the kernel follows the rows)."""
    rng = np.random.default_rng(seed)
    g, d = rng.permutation(len(gt)), rng.permutation(len(dt))

    def kernel(dt_index: Any, gt_index: Any, crowd: Any) -> Any:
        return similarity(d[dt_index], g[gt_index], crowd)

    return (
        GroundTruth(gt.item[g], gt.label[g], gt.area[g], gt.iscrowd[g], gt.ignore[g]),
        Predictions(dt.item[d], dt.label[d], dt.score[d], dt.area[d]),
        kernel,
    )


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: repr(o)[:60])
@pytest.mark.parametrize("order", ["file", "shuffled"])
@pytest.mark.parametrize("share", [0.0, 0.3, 0.55, 1.0])
def test_joined_parts_equal_one_evaluation(options: MatchOptions, order: str, share: float) -> None:
    gt, dt, similarity, n_items, n_labels, _ = case_inputs(make_case(5, n_images=40))
    assert bool(np.all(np.diff(dt.item) >= 0))  # the file lists images in item order
    if order == "shuffled":
        gt, dt, similarity = shuffled(gt, dt, similarity, 11)
    one = evaluate(gt, dt, similarity, n_items, n_labels, options)
    parts = split_items(gt, dt, share)
    if order == "file" or 0 < len(parts[0].dt_rows) < len(dt):  # slices only where consecutive
        assert all(isinstance(p.dt_span, slice) == (order == "file") for p in parts)
    tables = tuple(
        evaluate(*part.inputs(gt, dt, similarity), n_items, n_labels, options) for part in parts
    )
    assert_same_table(one, join_tables(gt, dt, parts, (tables[0], tables[1])))


def test_merged_metric_order_puts_the_first_part_first_on_ties() -> None:
    # Every score tied: the order is (label, item, input order) across the cut.
    dt = Predictions.from_arrays(
        item=[3, 0, 2, 1, 3, 0], label=[1, 1, 0, 1, 0, 0], score=[0.5] * 6, area=[100.0] * 6
    )
    gt = GroundTruth.from_arrays(item=[], label=[], area=[])
    boxes = np.tile([0.0, 0.0, 10.0, 10.0], (6, 1))
    similarity = box_similarity(boxes, np.zeros((0, 4)))
    one = evaluate(gt, dt, similarity, 4, 2)
    parts = split_items(gt, dt, 0.5)
    tables = tuple(evaluate(*p.inputs(gt, dt, similarity), 4, 2) for p in parts)
    joined = join_tables(gt, dt, parts, (tables[0], tables[1]))
    assert joined.dt_metric_order.tolist() == one.dt_metric_order.tolist() == [5, 2, 4, 1, 3, 0]


@pytest.fixture(scope="module")
def coco_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    case = make_case(9, n_images=60)
    root = tmp_path_factory.mktemp("split")
    dataset = dict(case.dataset)
    dataset["images"] = [{k: v for k, v in img.items() if k != "key"} for img in dataset["images"]]
    (root / "gt.json").write_bytes(orjson.dumps(dataset))
    (root / "dt.json").write_bytes(orjson.dumps(case.detections))
    return root / "gt.json", root / "dt.json"


def evaluated(files: tuple[Path, Path], **kwargs: Any) -> tuple[MatchTable, MatchTable]:
    gt = load_ground_truth(str(files[0]), "bbox")
    inputs = coco_inputs(gt, load_results(str(files[1]), gt))
    one = evaluate(
        inputs.gt,
        inputs.dt,
        inputs.similarity,
        inputs.n_items,
        inputs.n_labels,
        inputs.options,
        confusion=False,
    )
    return one, forked.evaluate_inputs(inputs, min_predictions=0, **kwargs)


def test_forked_evaluation_equals_one_process(
    coco_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[MatchTable | None] = []
    original = forked._read_table

    def spy(fd: int) -> MatchTable | None:
        read.append(original(fd))
        return read[-1]

    monkeypatch.setattr(forked, "_read_table", spy)
    one, two = evaluated(coco_files)
    assert len(read) == 1 and read[0] is not None  # the child's part came back
    assert_same_table(one, two)
    assert np.array_equal(coco_summary(one).stats, coco_summary(two).stats)


def test_forked_evaluation_with_the_confusion_pass(coco_files: tuple[Path, Path]) -> None:
    gt = load_ground_truth(str(coco_files[0]), "bbox")
    inputs = coco_inputs(gt, load_results(str(coco_files[1]), gt))
    one = evaluate(
        inputs.gt, inputs.dt, inputs.similarity, inputs.n_items, inputs.n_labels, inputs.options
    )
    assert_same_table(one, forked.evaluate_inputs(inputs, confusion=True, min_predictions=0))


def test_a_failing_child_is_replaced_by_this_process(
    coco_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int, table: MatchTable) -> None:
        raise RuntimeError("child cannot write")

    monkeypatch.setattr(forked, "_write_table", broken)  # the forked child inherits it
    one, two = evaluated(coco_files)
    assert_same_table(one, two)


def test_a_failed_fork_evaluates_in_one_process(
    coco_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork() -> int:
        raise OSError("no more processes")

    monkeypatch.setattr(os, "fork", no_fork)
    one, two = evaluated(coco_files)
    assert_same_table(one, two)


def test_bad_item_indices_are_reported_by_evaluate(coco_files: tuple[Path, Path]) -> None:
    gt = load_ground_truth(str(coco_files[0]), "bbox")
    inputs = coco_inputs(gt, load_results(str(coco_files[1]), gt))
    for bad in (-1, inputs.n_items):
        item = inputs.dt.item.copy()
        item[len(item) // 2 + 1] = bad  # in the second part when the index is too large
        dt = Predictions(item, inputs.dt.label, inputs.dt.score, inputs.dt.area)
        with pytest.raises(EvaluationInputError, match=r"dt\.item"):
            forked.evaluate_inputs(replace(inputs, dt=dt), min_predictions=0)
