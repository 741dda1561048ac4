"""``overall_ap_samples`` (what the regression finder reads) is exactly the overall AP of
``metric_samples``: all labels, some labels, restricted statistics, pooled labels."""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation.bootstrap import (
    metric_samples,
    overall_ap_samples,
    resample_weights,
    restrict_statistics,
    run_statistics,
)
from tests.support.coco_cases import PROTOCOL_OPTIONS, make_case, run_engine


@pytest.mark.parametrize("pooled", [False, True], ids=["per-label", "agnostic"])
def test_overall_ap_alone_equals_the_overall_ap_of_every_metric(pooled: bool) -> None:
    table, _ = run_engine(make_case(21, 30), PROTOCOL_OPTIONS[3] if pooled else None)
    stats = run_statistics(table, 0.5, 0.0)
    n = table.n_items
    keep = np.random.default_rng(21).random(n) < 0.5
    weights = np.vstack(
        [keep[None, :].astype(np.float64), resample_weights(n, np.flatnonzero(keep), 7, 3)]
    )
    for labels in (None, np.array([0, 2, 3])):
        for chosen in (stats, restrict_statistics(stats, keep)):
            expected = metric_samples(chosen, weights, labels).overall["ap"]
            got = overall_ap_samples(chosen, weights, labels)
            assert np.count_nonzero(~np.isnan(expected)) == weights.shape[0]
            np.testing.assert_array_equal(got, expected)
