"""Property: a slice's metrics from the full match table equal evaluating the slice alone.

Matching inside an item never looks at other items, so selecting rows of the
full table must give exactly what a fresh evaluation of the selected items
gives - for every protocol and label option.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sliceboard.evaluation import (
    EmptyClasses,
    MatchOptions,
    coco_summary,
    evaluate,
    threshold_metrics,
)
from sliceboard.evaluation.geometry.boxes import box_similarity
from tests.support.coco_cases import PROTOCOL_OPTIONS, case_inputs, make_case, restrict

OPTIONS = [*PROTOCOL_OPTIONS, MatchOptions(empty_classes=EmptyClasses.INCLUDE)]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    option_index=st.integers(0, len(OPTIONS) - 1),
    mask_seed=st.integers(0, 10_000),
    iou=st.sampled_from([0.1, 0.5, 0.75, 0.9]),
    confidence=st.sampled_from([0.0, 0.35, 0.8]),
)
def test_slice_from_full_table_equals_fresh_evaluation(
    seed: int, option_index: int, mask_seed: int, iou: float, confidence: float
) -> None:
    options = OPTIONS[option_index]
    case = make_case(seed, n_images=10)
    gt, dt, _, n_items, n_labels, _ = case_inputs(case)
    gt_boxes = np.array([a["bbox"] for a in case.dataset["annotations"]]).reshape(-1, 4)
    dt_boxes = np.array([d["bbox"] for d in case.detections]).reshape(-1, 4)
    mask = np.random.default_rng(mask_seed).random(n_items) < 0.5

    full = evaluate(gt, dt, box_similarity(dt_boxes, gt_boxes), n_items, n_labels, options)
    sub_gt, sub_dt = restrict(gt, dt, mask)
    alone = evaluate(
        sub_gt,
        sub_dt,
        box_similarity(dt_boxes[mask[dt.item]], gt_boxes[mask[gt.item]]),
        int(mask.sum()),
        n_labels,
        options,
    )

    from_full, fresh = coco_summary(full, mask), coco_summary(alone)
    np.testing.assert_array_equal(from_full.stats, fresh.stats)
    np.testing.assert_array_equal(from_full.precision, fresh.precision)
    np.testing.assert_array_equal(from_full.recall, fresh.recall)
    np.testing.assert_array_equal(from_full.ap, fresh.ap)

    sliced = threshold_metrics(full, mask, iou, confidence)
    direct = threshold_metrics(alone, None, iou, confidence)
    for name in ("tp", "fp", "fn", "precision", "recall", "f1"):
        np.testing.assert_array_equal(
            getattr(sliced.per_label, name), getattr(direct.per_label, name), err_msg=name
        )
    np.testing.assert_array_equal(sliced.confusion, direct.confusion)
    np.testing.assert_array_equal(sliced.pr_curve.precision, direct.pr_curve.precision)
    np.testing.assert_array_equal(sliced.pr_curve.confidence, direct.pr_curve.confidence)
