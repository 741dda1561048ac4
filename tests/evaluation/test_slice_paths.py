"""Slices read only their own rows: item indexes, metric positions and the transposed states.

Small slices take the paths built for speed (CSR item ranges, sorted metric positions,
``MatchTable.metric_state``); they must give exactly what a fresh evaluation of the
selected items gives, also when the table's rows are not sorted by item and when the
table comes from an older blob without ``dt_metric_order``.
"""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation import (
    GroundTruth,
    MatchTable,
    Predictions,
    coco_summary,
    evaluate,
    threshold_metrics,
)
from sliceboard.evaluation.geometry.boxes import box_similarity
from sliceboard.evaluation.item_index import ItemIndex, ranges
from tests.support.coco_cases import case_inputs, make_case, restrict


def test_ranges_concatenates_aranges() -> None:
    start, stop = np.array([5, 0, 9, 9]), np.array([8, 2, 9, 11])
    assert ranges(start, stop).tolist() == [5, 6, 7, 0, 1, 9, 10]
    assert ranges(start[:0], stop[:0]).shape == (0,)


@pytest.mark.parametrize("shuffle", [False, True])
def test_item_index_lists_each_items_rows_in_input_order(shuffle: bool) -> None:
    rng = np.random.default_rng(1)
    item = np.sort(rng.integers(0, 12, 200))
    if shuffle:
        item = rng.permutation(item)
    index = ItemIndex.build(item, 14)  # items 12 and 13 have no rows
    assert (index.order is None) != shuffle
    chosen = np.array([3, 13, 0, 7])
    expected = np.concatenate([np.flatnonzero(item == i) for i in chosen])
    np.testing.assert_array_equal(index.rows(chosen), expected)


def _shuffled(
    gt: GroundTruth, dt: Predictions, rng: np.random.Generator
) -> tuple[GroundTruth, Predictions, np.ndarray, np.ndarray]:
    g, d = rng.permutation(gt.item.shape[0]), rng.permutation(dt.item.shape[0])
    return (
        GroundTruth(gt.item[g], gt.label[g], gt.area[g], gt.iscrowd[g], gt.ignore[g]),
        Predictions(dt.item[d], dt.label[d], dt.score[d], dt.area[d]),
        g,
        d,
    )


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("old_blob", [False, True])
def test_small_slices_equal_fresh_evaluation(shuffle: bool, old_blob: bool) -> None:
    case = make_case(7, n_images=40)
    gt, dt, _, n_items, n_labels, _ = case_inputs(case)
    gt_boxes = np.array([a["bbox"] for a in case.dataset["annotations"]]).reshape(-1, 4)
    dt_boxes = np.array([d["bbox"] for d in case.detections]).reshape(-1, 4)
    rng = np.random.default_rng(3)
    if shuffle:
        gt, dt, g, d = _shuffled(gt, dt, rng)
        gt_boxes, dt_boxes = gt_boxes[g], dt_boxes[d]
    full = evaluate(gt, dt, box_similarity(dt_boxes, gt_boxes), n_items, n_labels)
    if old_blob:  # blobs of older versions carry no dt_metric_order: it is derived
        arrays = full.to_arrays()
        del arrays["dt_metric_order"]
        full = MatchTable.from_arrays(arrays)
        assert full.dt_metric_order.shape[0] == dt.item.shape[0]
    assert int(full.dt_rank.max()) >= 100  # some predictions lie beyond maxDets
    for share in (0.1, 0.3):
        mask = rng.random(n_items) < share
        sub_gt, sub_dt = restrict(gt, dt, mask)
        alone = evaluate(
            sub_gt,
            sub_dt,
            box_similarity(dt_boxes[mask[dt.item]], gt_boxes[mask[gt.item]]),
            int(mask.sum()),
            n_labels,
        )
        sliced, fresh = coco_summary(full, mask), coco_summary(alone)
        np.testing.assert_array_equal(sliced.precision, fresh.precision)
        np.testing.assert_array_equal(sliced.recall, fresh.recall)
        np.testing.assert_array_equal(sliced.stats, fresh.stats)
        counts = threshold_metrics(full, mask, 0.5, 0.3)
        direct = threshold_metrics(alone, None, 0.5, 0.3)
        for name in ("tp", "fp", "fn"):
            np.testing.assert_array_equal(
                getattr(counts.per_label, name), getattr(direct.per_label, name)
            )
        np.testing.assert_array_equal(counts.confusion, direct.confusion)
        for name in ("label", "confidence", "precision", "recall"):
            np.testing.assert_array_equal(
                getattr(counts.pr_curve, name), getattr(direct.pr_curve, name)
            )


def test_empty_slice_has_undefined_metrics() -> None:
    case = make_case(2, n_images=6)
    gt, dt, similarity, n_items, n_labels, _ = case_inputs(case)
    table = evaluate(gt, dt, similarity, n_items, n_labels)
    summary = coco_summary(table, np.zeros(n_items, dtype=bool))
    assert np.all(summary.stats == -1)
    metrics = threshold_metrics(table, np.zeros(n_items, dtype=bool))
    assert int(metrics.overall.tp) == 0 and metrics.pr_curve.label.shape == (0,)


def test_recall_points_reached_equals_binary_search() -> None:
    from sliceboard.evaluation.coco_curves import recall_points_reached
    from sliceboard.evaluation.types import RECALL_THRESHOLDS

    fractions = [np.arange(1, n + 1) / n for n in range(1, 300)]
    rng = np.random.default_rng(0)
    rc = np.concatenate([*fractions, rng.random(10_000) * 1.3, [0.0, 1.0, np.inf]])
    rc = np.concatenate([rc, np.nextafter(RECALL_THRESHOLDS, 2), RECALL_THRESHOLDS])
    rc = np.concatenate([rc, np.nextafter(RECALL_THRESHOLDS[1:], -1)])
    expected = np.searchsorted(RECALL_THRESHOLDS, rc, side="right")
    np.testing.assert_array_equal(recall_points_reached(rc), expected)


@pytest.mark.parametrize("shuffle", [False, True])
def test_pooled_pr_curve_ranks_ties_by_row(shuffle: bool) -> None:
    from sliceboard.evaluation.label_subset import pooled_pr_curve

    case = make_case(5, n_images=20)  # scores rounded to 0.1: many ties across items
    gt, dt, _, n_items, n_labels, _ = case_inputs(case)
    gt_boxes = np.array([a["bbox"] for a in case.dataset["annotations"]]).reshape(-1, 4)
    dt_boxes = np.array([d["bbox"] for d in case.detections]).reshape(-1, 4)
    if shuffle:
        gt, dt, g, d = _shuffled(gt, dt, np.random.default_rng(4))
        gt_boxes, dt_boxes = gt_boxes[g], dt_boxes[d]
    table = evaluate(gt, dt, box_similarity(dt_boxes, gt_boxes), n_items, n_labels)
    mask = np.random.default_rng(6).random(n_items) < 0.4
    labels = np.array([True, False, True, True, False])
    recall, precision, score = pooled_pr_curve(table, mask, 0.5, labels)
    # Reference: every prediction of the slice, by descending score, ties by row.
    row = table.row_index(0.5)
    state = table.dt_state[row]
    keep = mask[table.dt_item] & (state <= 1) & (state >= 0) & labels[table.dt_label]
    chosen = np.flatnonzero(keep)
    chosen = chosen[np.argsort(-table.dt_score[chosen], kind="stable")]
    tp = np.cumsum(state[chosen] == 1)
    n_pos = np.count_nonzero(
        mask[table.gt_item] & ~table.gt_iscrowd & ~table.gt_ignore & labels[table.gt_label]
    )
    np.testing.assert_array_equal(score, table.dt_score[chosen])
    np.testing.assert_array_equal(precision, tp / np.arange(1, chosen.shape[0] + 1))
    np.testing.assert_array_equal(recall, tp / n_pos)
