"""IOU_GREEDY and NO_FALLBACK against plain per-item Python loops on random cases.

The engine runs both protocols vectorised across items and rows; these
references follow the definitions one prediction (or pair) at a time.
"""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation import (
    FALSE_POSITIVE,
    IGNORED,
    NOT_EVALUATED,
    TRUE_POSITIVE,
    Matching,
    MatchOptions,
    MatchTable,
)
from sliceboard.evaluation.geometry.boxes import box_iou_pairs
from tests.support.coco_cases import CocoCase, engine_inputs, make_case, run_engine


def reference_states(case: CocoCase, table: MatchTable, matching: Matching) -> np.ndarray:
    gt, dt, _, n_items, _, _ = engine_inputs(case)
    gt_boxes = np.array([a["bbox"] for a in case.dataset["annotations"]]).reshape(-1, 4)
    dt_boxes = np.array([d["bbox"] for d in case.detections]).reshape(-1, 4)
    states = np.full(table.dt_state.shape, NOT_EVALUATED, dtype=np.int8)
    for row, (area, threshold) in enumerate(zip(table.row_area, table.row_threshold, strict=True)):
        t = min(threshold, 1 - 1e-10)
        low, high = table.area_low[area], table.area_high[area]
        ignored = gt.iscrowd | (gt.area < low) | (gt.area > high)
        for item in range(n_items):
            for label in range(table.n_labels):
                gts = np.flatnonzero((gt.item == item) & (gt.label == label))
                dts = np.flatnonzero((dt.item == item) & (dt.label == label))
                dts = dts[np.argsort(-dt.score[dts], kind="stable")][:100]
                if dts.size == 0:
                    continue
                iou = np.zeros((dts.size, gts.size))
                for i, d in enumerate(dts):
                    crowd = gt.iscrowd[gts]
                    iou[i] = box_iou_pairs(
                        np.repeat(dt_boxes[d : d + 1], gts.size, 0), gt_boxes[gts], crowd
                    )
                match = (_greedy if matching is Matching.IOU_GREEDY else _no_fallback)(
                    iou, ignored[gts], gt.iscrowd[gts], t
                )
                for i, d in enumerate(dts):
                    g = match[i]
                    if g >= 0:
                        states[row, d] = IGNORED if ignored[gts[g]] else TRUE_POSITIVE
                    else:
                        outside = dt.area[d] < low or dt.area[d] > high
                        states[row, d] = IGNORED if outside else FALSE_POSITIVE
    return states


def _greedy(iou: np.ndarray, ignored: np.ndarray, crowd: np.ndarray, t: float) -> list[int]:
    match = [-1] * iou.shape[0]
    taken = np.zeros(iou.shape[1], dtype=bool)
    for stage_ignored in (False, True):
        pairs = [
            (-iou[i, g], i, g)
            for i in range(iou.shape[0])
            for g in range(iou.shape[1])
            if iou[i, g] >= t and iou[i, g] >= 0.05 and ignored[g] == stage_ignored
        ]
        for _, i, g in sorted(pairs):
            if match[i] < 0 and not taken[g]:
                match[i] = g
                taken[g] = not crowd[g]
    return match


def _no_fallback(iou: np.ndarray, ignored: np.ndarray, crowd: np.ndarray, t: float) -> list[int]:
    match = [-1] * iou.shape[0]
    taken = np.zeros(iou.shape[1], dtype=bool)
    for i in range(iou.shape[0]):
        regular = [g for g in range(iou.shape[1]) if not ignored[g] and iou[i, g] >= 0.05]
        if regular:
            best = max(regular, key=lambda g: (iou[i, g], g))  # ties: the later gt
            if iou[i, best] >= t and not taken[best]:
                match[i], taken[best] = best, True
                continue
        absorbing = [
            g for g in range(iou.shape[1]) if ignored[g] and iou[i, g] >= t and not taken[g]
        ]
        if absorbing:
            g = max(absorbing, key=lambda g: (iou[i, g], g))
            match[i] = g
            taken[g] = not crowd[g]
    return match


@pytest.mark.parametrize("matching", [Matching.IOU_GREEDY, Matching.NO_FALLBACK])
@pytest.mark.parametrize("seed", range(2))
def test_vectorised_protocol_equals_the_reference_loop(matching: Matching, seed: int) -> None:
    case = make_case(700 + seed, n_images=6)
    table, _ = run_engine(case, MatchOptions(matching=matching))
    np.testing.assert_array_equal(table.dt_state, reference_states(case, table, matching))
