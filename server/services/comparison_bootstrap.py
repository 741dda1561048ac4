"""Bootstrap intervals of a run's metrics, and paired intervals of the deltas between two runs.

Pure numpy over the engine (``sliceboard.evaluation.bootstrap``); called off the event loop.
Items are resampled among the selected ones; for two runs the same draws weigh both (items
are matched by their row id, so two evaluations of one dataset line up even when their item
lists differ), and a delta's samples are the candidate's minus the baseline's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sliceboard.evaluation.bootstrap import (
    METRICS,
    MetricSamples,
    RunStatistics,
    metric_samples,
    percentile_interval,
    resample_weights,
    sign_p_value,
)
from sliceboard.services.evaluation.snapshot import Snapshot


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None
    p_value: float | None = None


@dataclass(frozen=True)
class RunIntervals:
    overall: dict[str, Interval]
    per_label: dict[str, dict[str, Interval]]


@dataclass(frozen=True)
class DeltaIntervals:
    overall: dict[str, Interval]
    per_label: dict[str, dict[str, Interval]]


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _label_indices(snapshot: Snapshot, labels: list[str] | None) -> np.ndarray | None:
    if labels is None:
        return None
    wanted = set(labels)
    return np.array([k for k, n in enumerate(snapshot.label_names) if n in wanted], dtype=np.int64)


def _selected(snapshot: Snapshot, mask: np.ndarray | None) -> np.ndarray:
    n = snapshot.table.n_items
    return np.arange(n) if mask is None else np.flatnonzero(mask)


def run_intervals(
    snapshot: Snapshot,
    mask: np.ndarray | None,
    stats: RunStatistics,
    labels: list[str] | None,
    resamples: int,
    seed: int,
    level: float,
) -> RunIntervals:
    """Percentile intervals of every metric of one run's slice, overall and per label."""
    selected = _selected(snapshot, mask)
    weights = np.vstack(
        [
            _ones(snapshot.table.n_items, selected),
            resample_weights(snapshot.table.n_items, selected, resamples, seed),
        ]
    )  # row 0: the selection itself, the point the intervals are bias-corrected around
    samples = metric_samples(stats, weights, _label_indices(snapshot, labels))
    return RunIntervals(
        overall=_overall(samples, level),
        per_label=_per_label(snapshot, samples, labels, level),
    )


def _ones(n_items: int, selected: np.ndarray) -> np.ndarray:
    row = np.zeros((1, n_items))
    row[0, selected] = 1.0
    return row


def label_points(
    snapshot: Snapshot, mask: np.ndarray | None, stats: RunStatistics, labels: list[str] | None
) -> MetricSamples:
    """The metrics themselves (one row of weights: the selection)."""
    weights = np.zeros((1, snapshot.table.n_items))
    weights[0, _selected(snapshot, mask)] = 1.0
    return metric_samples(stats, weights, _label_indices(snapshot, labels))


def _overall(samples: MetricSamples, level: float, p: bool = False) -> dict[str, Interval]:
    """Row 0 of each sample array is the point estimate, the rest the resamples."""
    out = {}
    for name in METRICS:
        values = samples.overall[name][1:, None]
        point = samples.overall[name][:1]
        low, high = percentile_interval(values, level, point)
        p_value = _number(float(sign_p_value(values)[0])) if p else None
        out[name] = Interval(_number(float(low[0])), _number(float(high[0])), p_value)
    return out


def _per_label(
    snapshot: Snapshot,
    samples: MetricSamples,
    labels: list[str] | None,
    level: float,
    p: bool = False,
) -> dict[str, dict[str, Interval]]:
    wanted = None if labels is None else set(labels)
    out: dict[str, dict[str, Interval]] = {}
    bounds = {}
    for name in METRICS:
        values = samples.per_label[name][1:]
        low, high = percentile_interval(values, level, samples.per_label[name][0])
        p_values = sign_p_value(values) if p else np.full(values.shape[1], np.nan)
        bounds[name] = (low, high, p_values)
    for k, label in enumerate(snapshot.label_names):
        if wanted is not None and label not in wanted:
            continue
        out[label] = {
            name: Interval(
                _number(float(bounds[name][0][k])),
                _number(float(bounds[name][1][k])),
                _number(float(bounds[name][2][k])) if p else None,
            )
            for name in METRICS
        }
    return out


def _aligned_weights(
    union_ids: np.ndarray, draws: np.ndarray, snapshot: Snapshot, mask: np.ndarray | None
) -> np.ndarray:
    """The draws (B, len(union_ids)) as weights over the snapshot's items (B, D)."""
    weights = np.zeros((draws.shape[0], snapshot.table.n_items))
    mine = _selected(snapshot, mask)
    ids = snapshot.item_ids[mine]
    at = np.searchsorted(union_ids, ids)
    weights[:, mine] = draws[:, at]
    return weights


def paired_intervals(
    base: Snapshot,
    base_mask: np.ndarray | None,
    base_stats: RunStatistics,
    cand: Snapshot,
    cand_mask: np.ndarray | None,
    cand_stats: RunStatistics,
    labels: list[str] | None,
    resamples: int,
    seed: int,
    level: float,
) -> DeltaIntervals:
    """Intervals and p-values of candidate - baseline, from the same resampled items."""
    union_ids = np.union1d(
        base.item_ids[_selected(base, base_mask)], cand.item_ids[_selected(cand, cand_mask)]
    )
    n = union_ids.shape[0]
    draws = np.vstack([np.ones((1, n)), resample_weights(n, np.arange(n), resamples, seed)])
    base_samples = metric_samples(
        base_stats,
        _aligned_weights(union_ids, draws, base, base_mask),
        _label_indices(base, labels),
    )
    cand_samples = metric_samples(
        cand_stats,
        _aligned_weights(union_ids, draws, cand, cand_mask),
        _label_indices(cand, labels),
    )
    overall = MetricSamples(
        overall={n: cand_samples.overall[n] - base_samples.overall[n] for n in METRICS},
        per_label={},
    )
    per_label: dict[str, dict[str, Interval]] = {}
    base_index = {name: k for k, name in enumerate(base.label_names)}
    cand_index = {name: k for k, name in enumerate(cand.label_names)}
    wanted = None if labels is None else set(labels)
    shared = [n for n in base.label_names if n in cand_index and (wanted is None or n in wanted)]
    if shared:
        b_cols = np.array([base_index[n] for n in shared])
        c_cols = np.array([cand_index[n] for n in shared])
        differences = MetricSamples(
            overall={},
            per_label={
                n: cand_samples.per_label[n][:, c_cols] - base_samples.per_label[n][:, b_cols]
                for n in METRICS
            },
        )
        for name in METRICS:
            values = differences.per_label[name][1:]
            low, high = percentile_interval(values, level, differences.per_label[name][0])
            p_values = sign_p_value(values)
            for j, label in enumerate(shared):
                per_label.setdefault(label, {})[name] = Interval(
                    _number(float(low[j])), _number(float(high[j])), _number(float(p_values[j]))
                )
    return DeltaIntervals(overall=_overall(overall, level, p=True), per_label=per_label)
