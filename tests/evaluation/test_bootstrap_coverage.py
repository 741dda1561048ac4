"""Coverage of the bootstrap intervals in a simulation whose population values are known.

Each item has Poisson(3) objects, each found by a prediction scored Beta(4, 2), and Poisson(2)
false positives scored Beta(2, 4). Every object is found at some score, so every sample ends at
recall 1 exactly (a largest recall that wanders across COCO's 0.01 recall grid makes AP jump,
which no bootstrap follows). The population recall at confidence 0.5 is Beta(4, 2)'s survival
there, and the population AP is COCO's 101-point interpolated AP of the population PR curve,
computed from the two score distributions (their survival functions are polynomials). Many
independent datasets are simulated at once as the classes of one dataset (a dataset's items
only hold its class), so one call evaluates every resample of every dataset.
"""

from __future__ import annotations

import numpy as np

from sliceboard.evaluation.bootstrap import percentile_interval
from sliceboard.evaluation.match_table import FALSE_POSITIVE, TRUE_POSITIVE
from sliceboard.evaluation.types import RECALL_THRESHOLDS
from sliceboard.evaluation.weighted_ap import ApStatistics, ap_statistics, weighted_ap

FOUND, OBJECTS, FALSE_POSITIVES = 1.0, 3.0, 2.0
CONFIDENCE = 0.5
RECALL = 1 - 5 * CONFIDENCE**4 + 4 * CONFIDENCE**5  # recall at the confidence threshold
N_ITEMS, DATASETS, RESAMPLES, ROUNDS = 400, 150, 200, 4


def population_ap() -> float:
    s = np.linspace(0.0, 1.0, 2_000_001)
    found_above = 1 - 5 * s**4 + 4 * s**5  # Beta(4, 2) survival
    false_above = (1 - s) ** 4 * (1 + 4 * s)  # Beta(2, 4) survival
    tp = FOUND * OBJECTS * found_above
    fp = FALSE_POSITIVES * false_above
    recall = tp / OBJECTS
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 0.0)
    # recall falls as s rises: the envelope at recall r is the best precision at s <= s(r)
    envelope = np.maximum.accumulate(precision)
    q = [
        envelope[np.flatnonzero(recall >= r)[-1]] if r <= recall[0] else 0.0
        for r in RECALL_THRESHOLDS
    ]
    return float(np.mean(q))


def simulate(rng: np.random.Generator) -> tuple[ApStatistics, np.ndarray, np.ndarray]:
    n = N_ITEMS * DATASETS
    objects = rng.poisson(OBJECTS, n)
    gt_item = np.repeat(np.arange(n), objects)
    found = rng.random(gt_item.shape[0]) < FOUND
    tp_item = gt_item[found]
    fp_item = np.repeat(np.arange(n), rng.poisson(FALSE_POSITIVES, n))
    item = np.concatenate([tp_item, fp_item])
    tp_score = rng.beta(4, 2, tp_item.shape[0])
    score = np.concatenate([tp_score, rng.beta(2, 4, fp_item.shape[0])])
    state = np.concatenate(
        [np.full(tp_item.shape[0], TRUE_POSITIVE), np.full(fp_item.shape[0], FALSE_POSITIVE)]
    ).astype(np.int8)
    cls = item // N_ITEMS
    order = np.lexsort((np.arange(item.shape[0]), item, -score, cls))
    stats = ap_statistics(
        item=item[order],
        cls=cls[order],
        score=score[order],
        state=state[order][None, :],
        gt_item=gt_item,
        gt_class=gt_item // N_ITEMS,
        n_items=n,
        n_classes=DATASETS,
    )
    above = tp_item[tp_score >= CONFIDENCE]
    per_item_found = np.bincount(above, minlength=n).astype(np.float64)
    return stats, objects.astype(np.float64), per_item_found


def resamples_within_datasets(rng: np.random.Generator) -> np.ndarray:
    """(B, n) weights: every dataset resamples its own items."""
    n = N_ITEMS * DATASETS
    draws = rng.integers(0, N_ITEMS, size=(RESAMPLES, DATASETS, N_ITEMS))
    draws += (np.arange(DATASETS) * N_ITEMS)[None, :, None]
    flat = (np.arange(RESAMPLES)[:, None] * n + draws.reshape(RESAMPLES, -1)).ravel()
    return np.bincount(flat, minlength=RESAMPLES * n).reshape(RESAMPLES, n).astype(np.float64)


def test_nominal_95_intervals_cover_the_population_ap_and_recall() -> None:
    """600 datasets of 400 items, 200 resamples each (in rounds, to bound memory)."""
    rng = np.random.default_rng(2026)
    truth = population_ap()
    ap_hits, recall_hits, widths = [], [], []
    per_dataset = np.repeat(np.eye(DATASETS), N_ITEMS, axis=1)  # (datasets, n)
    for _ in range(ROUNDS):
        stats, objects, found = simulate(rng)
        weights = resamples_within_datasets(rng)
        ap = weighted_ap(stats, weights)[:, 0, :]  # (B, datasets)
        point = weighted_ap(stats, np.ones((1, weights.shape[1])))[0, 0, :]
        low, high = percentile_interval(ap, 0.95, point)
        ap_hits.append((low <= truth) & (truth <= high))
        widths.append(high - low)
        recall = ((weights * found) @ per_dataset.T) / ((weights * objects) @ per_dataset.T)
        low_r, high_r = percentile_interval(
            recall, 0.95, (found @ per_dataset.T) / (objects @ per_dataset.T)
        )
        recall_hits.append((low_r <= RECALL) & (high_r >= RECALL))
    ap_coverage = float(np.mean(np.concatenate(ap_hits)))
    recall_coverage = float(np.mean(np.concatenate(recall_hits)))
    assert 0.935 <= ap_coverage <= 0.965, ap_coverage
    assert 0.935 <= recall_coverage <= 0.965, recall_coverage
    # not trivially wide: about 4 standard deviations of AP on 400 items (sd ~0.006)
    assert 0.015 < float(np.median(np.concatenate(widths))) < 0.04
