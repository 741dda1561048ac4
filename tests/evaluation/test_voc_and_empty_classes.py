"""VOC all-point AP against the classic reference code, and EmptyClasses.INCLUDE."""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation import EmptyClasses, MatchOptions, coco_summary, voc_ap
from tests.support.coco_cases import make_case, run_engine
from tests.support.golden import evaluate_matrix


def reference_voc_ap(is_tp: np.ndarray, n_gt: int) -> float:
    """py-faster-rcnn's voc_ap(use_07_metric=False) on one class's sorted hits."""
    tp = np.cumsum(is_tp)
    fp = np.cumsum(~is_tp)
    rec = tp / n_gt
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for j in range(mpre.size - 1, 0, -1):
        mpre[j - 1] = np.maximum(mpre[j - 1], mpre[j])
    steps = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def test_voc_ap_hand_computed() -> None:
    # three gts; predictions by score: hit g0, miss, hit g1 -> (1 + 2/3) / 3
    table = evaluate_matrix(
        [[0.9, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.8, 0.0]],
        gt_label=[0, 0, 0],
        dt_label=[0, 0, 0],
        dt_score=[0.9, 0.8, 0.7],
    )
    result = voc_ap(table, iou_threshold=0.5)
    assert result.ap.tolist() == pytest.approx([(1 + 2 / 3) / 3])
    assert result.mean_ap == pytest.approx((1 + 2 / 3) / 3)


@pytest.mark.parametrize("seed", range(3))
def test_voc_ap_matches_reference_code(seed: int) -> None:
    table, _ = run_engine(make_case(500 + seed, tied_scores=False))
    result = voc_ap(table, iou_threshold=0.5)
    row = table.row_index(0.5)
    state = table.dt_state[row]
    ignored = table.gt_iscrowd | table.gt_ignore
    for k in range(table.n_labels):
        n_gt = int(np.sum((table.gt_label == k) & ~ignored))
        counted = np.flatnonzero((table.dt_label == k) & ((state == 0) | (state == 1)))
        counted = counted[np.argsort(-table.dt_score[counted], kind="stable")]
        if n_gt == 0:
            assert result.ap[k] == -1
        else:
            assert result.ap[k] == pytest.approx(reference_voc_ap(state[counted] == 1, n_gt))


def test_include_counts_classes_with_predictions_but_no_ground_truth_as_zero() -> None:
    case = make_case(3)
    _, exclude = run_engine(case)
    _, include = run_engine(case, MatchOptions(empty_classes=EmptyClasses.INCLUDE))
    empty = 4  # category id 40 never has ground truth but has predictions
    assert exclude.ap[empty] == -1 and include.ap[empty] == 0.0
    defined = exclude.ap[exclude.ap > -1]
    assert include.stats[0] < exclude.stats[0]
    assert include.ap[:empty].tolist() == exclude.ap[:empty].tolist()
    assert np.mean(include.precision[:, :, :, 0, -1][include.precision[:, :, :, 0, -1] > -1]) == (
        pytest.approx(include.stats[0])
    )
    assert defined.size == 4


def test_include_leaves_classes_without_anything_at_minus_one() -> None:
    table = evaluate_matrix(
        [[0.97]],
        gt_label=[0],
        dt_label=[0],
        dt_score=[0.9],
        n_labels=2,
        options=MatchOptions(empty_classes=EmptyClasses.INCLUDE),
    )
    summary = coco_summary(table)
    assert summary.ap.tolist() == pytest.approx([1.0, -1.0])  # 1 / (1 + eps), as pycocotools
