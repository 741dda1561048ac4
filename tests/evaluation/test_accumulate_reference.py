"""accumulate() against a direct transcription of pycocotools' accumulate loop.

pycocotools cannot evaluate allowed label pairs or row-dependent classes, so
this reference re-implements its per-(row, class, maxDets) loop in plain
Python over the match table and checks the vectorised version against it.
"""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation import RECALL_THRESHOLDS, MatchOptions, MatchTable, accumulate
from tests.support.coco_cases import make_case, run_engine


def reference_accumulate(table: MatchTable) -> tuple[np.ndarray, np.ndarray]:
    n_grid, n_areas = table.n_grid, table.area_names.shape[0]
    max_dets = table.max_detections
    precision = -np.ones((n_grid, 101, table.n_labels, n_areas, max_dets.shape[0]))
    recall = -np.ones((n_grid, table.n_labels, n_areas, max_dets.shape[0]))
    ignored = table.gt_iscrowd | table.gt_ignore
    for a in range(n_areas):
        inside = (table.gt_area >= table.area_low[a]) & (table.gt_area <= table.area_high[a])
        for t in range(n_grid):
            row = a * n_grid + t
            state = table.dt_state[row]
            cls = table.dt_class_row(row)
            for k in range(table.n_labels):
                npig = int(np.sum((table.gt_label == k) & ~ignored & inside))
                if npig == 0:
                    continue
                for m, max_det in enumerate(max_dets):
                    rows = [
                        p
                        for p in range(state.shape[0])
                        if cls[p] == k and state[p] in (0, 1) and table.dt_rank[p] < max_det
                    ]
                    rows.sort(
                        key=lambda p: (-table.dt_score[p], table.dt_item[p], table.dt_label[p], p)
                    )
                    tp = np.cumsum([state[p] == 1 for p in rows]).astype(float)
                    fp = np.cumsum([state[p] == 0 for p in rows]).astype(float)
                    rc = tp / npig
                    pr = (tp / (fp + tp + np.spacing(1))).tolist()
                    recall[t, k, a, m] = rc[-1] if rows else 0
                    for i in range(len(pr) - 1, 0, -1):
                        pr[i - 1] = max(pr[i - 1], pr[i])
                    q = np.zeros(101)
                    for r, i in enumerate(np.searchsorted(rc, RECALL_THRESHOLDS, side="left")):
                        if i < len(pr):
                            q[r] = pr[i]
                    precision[t, :, k, a, m] = q
    return precision, recall


@pytest.mark.parametrize(
    "options",
    [
        MatchOptions(allowed_label_matches=((0, 1), (1, 0), (2, 3))),
        MatchOptions(class_agnostic=True),
    ],
)
def test_row_dependent_classes_match_the_reference_loop(options: MatchOptions) -> None:
    table, _ = run_engine(make_case(21, n_images=8), options)
    assert table.dt_class.shape[0] > 0
    assert np.any(table.dt_class[table.row_index(0.5)] != table.dt_label)  # classes do move
    precision, recall = accumulate(table, pool_classes=False)
    ref_precision, ref_recall = reference_accumulate(table)
    np.testing.assert_allclose(precision, ref_precision, rtol=0, atol=1e-12)
    np.testing.assert_allclose(recall, ref_recall, rtol=0, atol=1e-12)
