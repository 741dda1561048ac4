"""IOU_GREEDY and NO_FALLBACK against plain Python written from the protocols' definitions.

The engine runs both protocols vectorised across items and rows; the reference here follows
the definitions one item, one prediction (or one pair) at a time, on Python floats, and shares
no code with the engine (not even its box IoU):

- Boxes are [x, y, w, h]; IoU is intersection over union, with a crowd region over the
  prediction's area (COCO_SEMANTICS.md). A threshold t is matched at min(t, 1 - 1e-10).
- Inside each (item, label) the top 100 predictions by descending score are evaluated (a stable
  sort: ties keep input order); the others are NOT_EVALUATED.
- A ground truth is ignored on a row when it is a crowd region or its ``area`` lies outside
  the row's range. Non-ignored ground truths are matched first; only a prediction left
  without one may be absorbed by an ignored one (crowd regions absorb any number).
- IOU_GREEDY (Nucleus, Labelbox): pairs by descending IoU, confidence aside.
- NO_FALLBACK (Encord, Kolena): predictions in confidence order; each competes only for its
  single best-IoU non-ignored ground truth and does not fall back to another one.

Neither protocol says who wins an exact IoU tie, so the reference does not pick a rule: it runs
with ties broken one way and the opposite way, the test checks that the case decides nothing
by a tie, and the engine must then give that one answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from tests.support.coco_cases import CocoCase, make_case, run_engine

MAX_DETECTIONS = 100
#: Orders two tied candidates: +1 prefers the earlier one, -1 the later one.
Ties = int
Matcher = Callable[[list[list[float]], list[bool], list[bool], float, Ties], list[int]]


def box_iou(dt: list[float], gt: list[float], crowd: bool) -> float:
    """COCO's IoU of two [x, y, w, h] boxes; over the prediction's area for a crowd region."""
    width = min(dt[0] + dt[2], gt[0] + gt[2]) - max(dt[0], gt[0])
    height = min(dt[1] + dt[3], gt[1] + gt[3]) - max(dt[1], gt[1])
    inter = max(width, 0.0) * max(height, 0.0)
    dt_area, gt_area = dt[2] * dt[3], gt[2] * gt[3]
    union = dt_area if crowd else dt_area + gt_area - inter
    return inter / union if union > 0 else 0.0


def iou_greedy(
    iou: list[list[float]], ignored: list[bool], crowd: list[bool], t: float, ties: Ties
) -> list[int]:
    """Matched gt index per prediction (-1: none): highest-IoU pairs first."""
    match = [-1] * len(iou)
    taken = [False] * len(ignored)
    for stage_ignored in (False, True):
        pairs = [
            (-iou[d][g], ties * d, ties * g, d, g)
            for d in range(len(iou))
            for g in range(len(ignored))
            if ignored[g] == stage_ignored and iou[d][g] >= t
        ]
        for *_, d, g in sorted(pairs):
            if match[d] < 0 and not taken[g]:
                match[d] = g
                taken[g] = not crowd[g]
    return match


def no_fallback(
    iou: list[list[float]], ignored: list[bool], crowd: list[bool], t: float, ties: Ties
) -> list[int]:
    """Matched gt index per prediction (-1: none): each only for its best non-ignored gt."""
    match = [-1] * len(iou)
    taken = [False] * len(ignored)

    def best(d: int, candidates: list[int]) -> int:
        return max(candidates, key=lambda g: (iou[d][g], -ties * g))

    for d in range(len(iou)):  # already in confidence order
        regular = [g for g in range(len(ignored)) if not ignored[g]]
        if regular:
            g = best(d, regular)
            if iou[d][g] >= t and not taken[g]:
                match[d], taken[g] = g, True
                continue
        absorbing = [g for g in range(len(ignored)) if ignored[g] and not taken[g]]
        absorbing = [g for g in absorbing if iou[d][g] >= t]
        if absorbing:
            g = best(d, absorbing)
            match[d] = g
            taken[g] = not crowd[g]
    return match


def reference_states(case: CocoCase, table: MatchTable, matcher: Matcher, ties: Ties) -> Any:
    """dt_state (R, P) as the protocol defines it; rows as the table lists them."""
    key_item = {key: i for i, key in enumerate(case.image_keys)}
    item_of = {img["id"]: key_item[img["key"]] for img in case.dataset["images"]}
    gts, dts = case.dataset["annotations"], case.detections
    states = np.full(table.dt_state.shape, NOT_EVALUATED, dtype=np.int8)
    groups: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
    for g, a in enumerate(gts):
        groups.setdefault((item_of[a["image_id"]], a["category_id"]), ([], []))[0].append(g)
    for d, p in enumerate(dts):
        groups.setdefault((item_of[p["image_id"]], p["category_id"]), ([], []))[1].append(d)
    for group_gts, group_dts in groups.values():
        ranked = sorted(group_dts, key=lambda d: -dts[d]["score"])[:MAX_DETECTIONS]
        crowd = [bool(gts[g]["iscrowd"]) for g in group_gts]
        iou = [
            [
                box_iou(dts[d]["bbox"], gts[g]["bbox"], c)
                for g, c in zip(group_gts, crowd, strict=True)
            ]
            for d in ranked
        ]
        for row in range(table.dt_state.shape[0]):
            low, high = table.area_low[table.row_area[row]], table.area_high[table.row_area[row]]
            outside = [not low <= gts[g]["area"] <= high for g in group_gts]
            ignored = [c or o for c, o in zip(crowd, outside, strict=True)]
            t = min(float(table.row_threshold[row]), 1 - 1e-10)
            for d, g in zip(ranked, matcher(iou, ignored, crowd, t, ties), strict=True):
                w, h = dts[d]["bbox"][2:]
                if g >= 0:
                    states[row, d] = IGNORED if ignored[g] else TRUE_POSITIVE
                else:
                    states[row, d] = FALSE_POSITIVE if low <= w * h <= high else IGNORED
    return states


@pytest.mark.parametrize("matching", [Matching.IOU_GREEDY, Matching.NO_FALLBACK])
@pytest.mark.parametrize("seed", [702, 712])  # seeds where NO_FALLBACK and CONFIDENCE part ways
def test_vectorised_protocol_equals_the_reference_loop(matching: Matching, seed: int) -> None:
    case = make_case(seed, n_images=6)
    table, _ = run_engine(case, MatchOptions(matching=matching))
    matcher = iou_greedy if matching is Matching.IOU_GREEDY else no_fallback
    expected = reference_states(case, table, matcher, ties=1)
    np.testing.assert_array_equal(reference_states(case, table, matcher, ties=-1), expected)
    assert {TRUE_POSITIVE, FALSE_POSITIVE, IGNORED, NOT_EVALUATED} <= set(np.unique(expected))
    confidence_order, _ = run_engine(case)
    assert (confidence_order.dt_state != expected).any()  # the case tells the protocols apart
    np.testing.assert_array_equal(table.dt_state, expected)
