"""Object transitions between two evaluations of one ground truth: fixed - broken equals the
change in true positives per label under every matching protocol, and the parallel greedy
pairing of false positives equals the sequential greedy it stands for."""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation import MatchOptions, threshold_metrics
from sliceboard.evaluation.transitions import (
    BROKEN,
    FIXED,
    align_ground_truth,
    ground_truth_outcome,
    pair_false_positives,
)
from tests.support.coco_cases import PROTOCOL_OPTIONS, CocoCase, make_case, run_engine
from tests.support.comparison_cases import other_detector


@pytest.mark.parametrize("options", PROTOCOL_OPTIONS)
@pytest.mark.parametrize(("iou", "confidence"), [(0.5, 0.0), (0.75, 0.5)])
def test_fixed_minus_broken_is_the_change_in_true_positives(
    options: MatchOptions, iou: float, confidence: float
) -> None:
    case = make_case(12, 30)
    other = CocoCase(case.dataset, other_detector(case, 12), case.image_keys)
    base, _ = run_engine(case, options)
    cand, _ = run_engine(other, options)
    gt_ids = np.arange(base.gt_item.shape[0])
    found = align_ground_truth(
        gt_ids,
        ground_truth_outcome(base, iou, confidence),
        base.gt_label,
        gt_ids,
        ground_truth_outcome(cand, iou, confidence),
    )
    tp_base = threshold_metrics(base, None, iou, confidence).per_label.tp
    tp_cand = threshold_metrics(cand, None, iou, confidence).per_label.tp
    fixed = np.bincount(found.label[found.kind(FIXED)], minlength=base.n_labels)
    broken = np.bincount(found.label[found.kind(BROKEN)], minlength=base.n_labels)
    assert np.array_equal(tp_cand - tp_base, fixed - broken)
    assert fixed.sum() > 0 and broken.sum() > 0


def _sequential(
    keys_b: np.ndarray, keys_c: np.ndarray, iou: np.ndarray, t: float
) -> set[tuple[int, int]]:
    pairs = [
        (float(iou[i, j]), i, j)
        for i in range(keys_b.shape[0])
        for j in range(keys_c.shape[0])
        if keys_b[i] == keys_c[j] and iou[i, j] >= t
    ]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    taken_b: set[int] = set()
    taken_c: set[int] = set()
    for _, i, j in pairs:
        if i not in taken_b and j not in taken_c:
            taken_b.add(i)
            taken_c.add(j)
    return {(i, 0) for i in taken_b} | {(j, 1) for j in taken_c}


@pytest.mark.parametrize("seed", range(5))
def test_parallel_greedy_pairing_equals_the_sequential_greedy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys_b = rng.integers(0, 6, 60)
    keys_c = rng.integers(0, 6, 50)
    iou = np.round(rng.random((60, 50)), 2)  # rounded: equal IoUs, broken by index

    def similarity(b: np.ndarray, c: np.ndarray) -> np.ndarray:
        found: np.ndarray = iou[b, c]
        return found

    paired_b, paired_c = pair_false_positives(keys_b, keys_c, similarity, 0.5)
    expected = _sequential(keys_b, keys_c, iou, 0.5)
    got = {(int(i), 0) for i in np.flatnonzero(paired_b)} | {
        (int(j), 1) for j in np.flatnonzero(paired_c)
    }
    assert got == expected
    assert paired_b.sum() == paired_c.sum() > 0
