"""Where did the candidate get worse? Saved slices and the most frequent values of each item
metadata field, ranked by the candidate's AP change on their items.

Each group's AP change comes from the bootstrap statistics restricted to its items (so a group
costs its own points), with a paired-bootstrap interval and p-value; the p-values of all groups
are adjusted together (Benjamini-Hochberg), since looking at many groups finds some "losses" by
chance.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue
from sliceboard.evaluation.bootstrap import (
    RunStatistics,
    benjamini_hochberg,
    overall_ap_samples,
    percentile_interval,
    resample_weights,
    restrict_statistics,
    sign_p_value,
)
from sliceboard.services.comparison import ComparedRun, RunDelta, computed_once
from sliceboard.services.slices import resolve_item_ids
from sliceboard.storage.comparison_reads import select_dataset_slices, select_item_metadata

SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class Group:
    kind: str  # SLICE | METADATA
    name: str
    slice_id: int | None
    field: str | None
    value: Any
    item_ids: np.ndarray  # int64 item row ids, ascending


@dataclass(frozen=True)
class Regression:
    group: Group
    item_count: int
    baseline: float | None
    candidate: float | None
    delta: float | None
    low: float | None
    high: float | None
    p_value: float | None
    adjusted_p_value: float | None


async def regression_groups(
    session: AsyncSession, *, dataset_id: int, run_id: int, max_groups: int, values_per_field: int
) -> list[Group]:
    """Saved slices first, then each metadata field's most frequent scalar values (fields by
    name), at most ``max_groups`` in all."""
    groups: list[Group] = []
    for slice_id, name in await select_dataset_slices(
        session=session, dataset_id=dataset_id, limit=max_groups
    ):
        ids = await resolve_item_ids(
            session, dataset_id=dataset_id, filter=None, slice_id=str(slice_id), model_run_id=run_id
        )
        groups.append(Group("SLICE", name, slice_id, None, None, np.asarray(ids, dtype=np.int64)))
    values: dict[str, Counter[Any]] = {}
    members: dict[tuple[str, Any], list[int]] = {}
    for item_id, metadata in await select_item_metadata(session=session, dataset_id=dataset_id):
        for key, value in (metadata or {}).items():
            if isinstance(value, SCALARS):
                marker = (type(value).__name__, value)
                values.setdefault(key, Counter())[marker] += 1
                members.setdefault((key, marker), []).append(item_id)
    for key in sorted(values):
        frequent = sorted(values[key].items(), key=lambda kv: (-kv[1], str(kv[0])))
        for marker, _count in frequent[:values_per_field]:
            groups.append(
                Group(
                    "METADATA",
                    f"{key} = {marker[1]!r}"
                    if isinstance(marker[1], str)
                    else f"{key} = {marker[1]}",
                    None,
                    key,
                    marker[1],
                    np.asarray(members[(key, marker)], dtype=np.int64),
                )
            )
    return groups[:max_groups]


def _mask(run: ComparedRun, item_ids: np.ndarray) -> np.ndarray:
    mask = np.isin(run.snapshot.item_ids, item_ids)
    return mask if run.mask is None else mask & run.mask


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def rank_regressions(
    groups: list[Group],
    base: ComparedRun,
    base_stats: RunStatistics,
    cand: ComparedRun,
    cand_stats: RunStatistics,
    labels: list[str] | None,
    resamples: int,
    seed: int,
    level: float,
) -> list[Regression]:
    """Every group's AP change with its paired interval and p-values, largest loss first."""
    rows = []
    p_values = []
    for group in groups:
        base_mask, cand_mask = _mask(base, group.item_ids), _mask(cand, group.item_ids)
        union = np.union1d(base.snapshot.item_ids[base_mask], cand.snapshot.item_ids[cand_mask])
        draws = np.vstack(
            [
                np.ones((1, union.shape[0])),
                resample_weights(union.shape[0], np.arange(union.shape[0]), resamples, seed),
            ]
        )
        samples = []
        for run, mask, stats in ((base, base_mask, base_stats), (cand, cand_mask, cand_stats)):
            weights = np.zeros((draws.shape[0], run.snapshot.table.n_items))
            weights[:, np.flatnonzero(mask)] = draws[
                :, np.searchsorted(union, run.snapshot.item_ids[mask])
            ]
            chosen = (
                None
                if labels is None
                else np.array(
                    [k for k, n in enumerate(run.snapshot.label_names) if n in set(labels)],
                    dtype=np.int64,
                )
            )
            samples.append(overall_ap_samples(restrict_statistics(stats, mask), weights, chosen))
        b, c = samples
        deltas = (c - b)[1:, None]
        low, high = percentile_interval(deltas, level, (c - b)[:1])
        p = sign_p_value(deltas)[0]
        p_values.append(p)
        rows.append((group, int(union.shape[0]), b[0], c[0], low[0], high[0], p))
    adjusted = benjamini_hochberg(np.array(p_values, dtype=np.float64)) if rows else np.zeros(0)
    out = [
        Regression(
            group=group,
            item_count=count,
            baseline=_number(bv),
            candidate=_number(cv),
            delta=_number(cv - bv),
            low=_number(float(low)),
            high=_number(float(high)),
            p_value=_number(float(p)),
            adjusted_p_value=_number(float(adjusted[k])),
        )
        for k, (group, count, bv, cv, low, high, p) in enumerate(rows)
    ]
    out.sort(key=lambda r: (r.delta is None, r.delta if r.delta is not None else 0.0, r.group.name))
    return out


async def find_regressions(
    session: AsyncSession,
    delta: RunDelta,
    *,
    first: int,
    resamples: int,
    max_resamples: int,
    max_groups: int,
    values_per_field: int,
) -> list[Regression]:
    """The ``first`` groups where the candidate lost the most AP against the baseline."""
    if not 1 <= resamples <= max_resamples:
        raise InvalidInput(
            [
                Issue(
                    "resamples",
                    f"must lie in 1..{max_resamples} (SLICEBOARD_MAX_BOOTSTRAP_RESAMPLES)",
                )
            ]
        )
    if first < 0:
        raise InvalidInput([Issue("first", "must not be negative")])
    comparison = delta.comparison
    base, cand = comparison.baseline, delta.candidate
    assert base.run.id is not None
    groups = await regression_groups(
        session,
        dataset_id=base.run.dataset_id,
        run_id=base.run.id,
        max_groups=max_groups,
        values_per_field=values_per_field,
    )
    key = (
        base.evaluation_id,
        "regressions",
        cand.evaluation_id,
        comparison.selection_key,
        comparison.iou_threshold,
        comparison.confidence_threshold,
        comparison.labels_key,
        comparison.bootstrap.seed,
        comparison.bootstrap.level,
        resamples,
        _groups_digest(groups),
    )

    async def fresh() -> list[Regression]:
        base_stats = await comparison.statistics(base)
        cand_stats = await comparison.statistics(cand)
        ranked: list[Regression] = await asyncio.to_thread(
            rank_regressions,
            groups,
            base,
            base_stats,
            cand,
            cand_stats,
            comparison.labels,
            resamples,
            comparison.bootstrap.seed,
            comparison.bootstrap.level,
        )
        return ranked

    # computed once per (evaluation pair, options, groups) and kept in the snapshot cache
    ranked: list[Regression] = await computed_once(comparison.cache, key, list, fresh)
    return ranked[:first]


def _groups_digest(groups: list[Group]) -> str:
    """What the groups are (kind, name, items), so a changed slice is a new key."""
    digest = hashlib.blake2b()
    for group in groups:
        digest.update(repr((group.kind, group.name, group.slice_id, group.field)).encode())
        digest.update(np.ascontiguousarray(group.item_ids, dtype=np.int64).tobytes())
    return digest.hexdigest()
