"""The vectorised weighted AP (every resample at once, blocks of resamples, cumulative sums read
at runs) against the straightforward computation: for each resample, expand the evaluated
predictions into the resampled dataset (item i present w_i times, copies consecutive) and run
pycocotools' accumulate on them (cumulative TP/FP, precision envelope, 101 recall points).
Also: the per-class weighted sums (a dense product per block of classes) against a plain loop,
and the answer does not depend on how resamples are blocked or threaded."""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation import weighted_ap as wap
from sliceboard.evaluation.bootstrap import resample_weights
from sliceboard.evaluation.match_table import FALSE_POSITIVE, TRUE_POSITIVE, MatchTable
from sliceboard.evaluation.types import RECALL_THRESHOLDS
from tests.support.coco_cases import make_case, run_engine

TOL = 1e-12


def straightforward_ap(table: MatchTable, weights: np.ndarray) -> np.ndarray:
    """(T, K) per-class AP on the resampled dataset, one resample, pycocotools' accumulate."""
    top = int(table.max_detections.max(initial=0))
    evaluated = np.flatnonzero(table.dt_rank < top)
    counted_gt = ~(table.gt_iscrowd | table.gt_ignore)
    counted_gt &= (table.gt_area >= table.area_low[0]) & (table.gt_area <= table.area_high[0])
    copies = weights.astype(np.int64)
    out = np.full((table.n_grid, table.n_labels), -1.0)
    for k in range(table.n_labels):
        npig = float(copies[table.gt_item[counted_gt & (table.gt_label == k)]].sum())
        if npig == 0:
            continue
        rows = evaluated[table.dt_label[evaluated] == k]
        # the resampled dataset: each prediction once per copy of its item
        times = copies[table.dt_item[rows]]
        expanded = np.repeat(rows, times)
        copy = np.concatenate([np.arange(n) for n in times]) if times.size else times
        # pycocotools: images in order (copies next to each other), then a stable sort by -score
        order = np.lexsort((expanded, copy, table.dt_item[expanded], -table.dt_score[expanded]))
        expanded = expanded[order]
        for t in range(table.n_grid):
            state = table.dt_state[t, expanded]
            tps = np.cumsum(state == TRUE_POSITIVE).astype(np.float64)
            fps = np.cumsum(state == FALSE_POSITIVE).astype(np.float64)
            rc = tps / npig
            pr = (tps / (fps + tps + np.spacing(1))).tolist()
            for i in range(len(pr) - 1, 0, -1):
                pr[i - 1] = max(pr[i - 1], pr[i])
            q = np.zeros(RECALL_THRESHOLDS.shape[0])
            for ri, pi in enumerate(np.searchsorted(rc, RECALL_THRESHOLDS, side="left")):
                if pi < len(pr):
                    q[ri] = pr[pi]
            out[t, k] = q.mean()
    return out


def fast_ap(table: MatchTable, weights: np.ndarray) -> np.ndarray:
    """(B, T, K) from the statistics built once."""
    out = np.empty((weights.shape[0], table.n_grid, table.n_labels))
    for rows, stats in wap.table_ap_statistics(table):
        out[:, rows, :] = wap.weighted_ap(stats, weights)
    return out


def resamples(n_items: int, count: int, seed: int) -> np.ndarray:
    """The data itself, an empty and a sparse row, then bootstrap draws."""
    rng = np.random.default_rng(seed)
    fixed = np.vstack(
        [
            np.ones(n_items),
            np.zeros(n_items),
            (rng.random(n_items) < 0.3) * rng.integers(1, 4, n_items),
        ]
    )
    return np.vstack([fixed, resample_weights(n_items, np.arange(n_items), count, seed)])


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_every_resample_equals_the_straightforward_computation(seed: int) -> None:
    case = make_case(seed, 30)  # crowd regions, ties within and across images, > 100 dets
    table, _ = run_engine(case)
    weights = resamples(table.n_items, 9, seed)
    fast = fast_ap(table, weights)
    for b in range(weights.shape[0]):
        np.testing.assert_allclose(
            fast[b], straightforward_ap(table, weights[b]), rtol=0, atol=TOL, err_msg=f"row {b}"
        )


def test_blocks_and_threads_do_not_change_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    table, _ = run_engine(make_case(14, 30))
    weights = resamples(table.n_items, 40, 14)
    whole = fast_ap(table, weights)
    monkeypatch.setattr(wap, "CACHE_ENTRIES", 1)  # one resample per block
    monkeypatch.setattr(wap, "THREADS", 2)
    blocked = fast_ap(table, weights)
    monkeypatch.setattr(wap, "CACHE_ENTRIES", 1 << 40)  # every resample in one block
    monkeypatch.setattr(wap, "THREADS", 1)
    single = fast_ap(table, weights)
    assert np.array_equal(whole, blocked)
    assert np.array_equal(whole, single)


def test_per_class_sums_equal_a_plain_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    n_items, n_classes = 37, 11
    item = rng.integers(0, n_items, 300)
    klass = rng.integers(0, n_classes, 300)
    klass[klass == 4] = 5  # a class without any entry
    counts = wap.ItemClassCounts.of(item, klass, n_items, n_classes)
    by_item = rng.integers(0, 5, size=(n_items, 6)).astype(np.float64)
    expected = np.zeros((n_classes, 6))
    for i, k in zip(item.tolist(), klass.tolist(), strict=True):
        expected[k] += by_item[i]
    assert np.array_equal(counts.weighted(by_item), expected)
    monkeypatch.setattr(wap, "DENSE_ENTRIES", 2 * n_items)  # blocks of two classes
    assert np.array_equal(counts.weighted(by_item), expected)
    monkeypatch.setattr(wap, "DENSE_ENTRIES", 1)  # one class per block
    assert np.array_equal(counts.weighted(by_item), expected)
