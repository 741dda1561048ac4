"""``MetricsReport.intervals``: bootstrap intervals of one run's slice metrics.

The run's per-item statistics are built once per (evaluation, thresholds) and kept in the
snapshot cache, as are the intervals of a (selection, labels, level, resamples, seed); the
same seed gives the same interval.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue
from sliceboard.evaluation.bootstrap import RunStatistics, run_statistics
from sliceboard.services.comparison_bootstrap import RunIntervals, run_intervals
from sliceboard.services.evaluation.cache import (
    SnapshotCache,
    check_threshold,
    selected_items,
    visible_snapshot,
)
from sliceboard.storage.tables import ModelRun


def check_arguments(level: float, resamples: int, seed: int, max_resamples: int) -> None:
    issues = []
    if not 1 <= resamples <= max_resamples:
        issues.append(
            Issue(
                "resamples", f"must lie in 1..{max_resamples} (SLICEBOARD_MAX_BOOTSTRAP_RESAMPLES)"
            )
        )
    if not (math.isfinite(level) and 0.0 < level < 1.0):
        issues.append(Issue("level", "must lie strictly between 0 and 1"))
    if not 0 <= seed < 2**63:
        issues.append(Issue("seed", "must lie in 0..2^63-1"))
    if issues:
        raise InvalidInput(issues)


async def metrics_intervals(
    session: AsyncSession,
    cache: SnapshotCache,
    *,
    run: ModelRun,
    filter: dict[str, Any] | None,
    slice_id: str | None,
    iou_threshold: float,
    confidence_threshold: float,
    labels: list[str] | None,
    level: float,
    resamples: int,
    seed: int,
    max_resamples: int,
) -> RunIntervals:
    check_arguments(level, resamples, seed, max_resamples)
    evaluation_id, snapshot = await visible_snapshot(session, cache, run)
    check_threshold(snapshot, iou_threshold, "iouThreshold")
    if not math.isfinite(confidence_threshold):
        raise InvalidInput([Issue("confidenceThreshold", "must be a finite number")])
    selection = await selected_items(
        session, snapshot, run, filter, slice_id, cache=cache, evaluation_id=evaluation_id
    )
    mask = None if selection is None else selection.mask
    stats_key = (evaluation_id, "run statistics", iou_threshold, confidence_threshold)
    stats: RunStatistics | None = cache.reports.get(stats_key)
    if stats is None:
        stats = await asyncio.to_thread(
            run_statistics, snapshot.table, iou_threshold, confidence_threshold
        )
        cache.reports.put(stats_key, stats)
    digest = None if mask is None else hashlib.blake2b(np.packbits(mask).tobytes()).hexdigest()
    key = (
        evaluation_id,
        "run intervals",
        digest,
        iou_threshold,
        confidence_threshold,
        None if labels is None else tuple(sorted(set(labels))),
        level,
        resamples,
        seed,
    )
    found = cache.reports.get(key)
    if isinstance(found, RunIntervals):
        return found
    value = await asyncio.to_thread(
        run_intervals, snapshot, mask, stats, labels, resamples, seed, level
    )
    cache.reports.put(key, value)
    return value
