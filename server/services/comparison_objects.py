"""Paging through the objects a candidate fixed, broke, still misses, or whose false positives
it added or removed, in item order. Offsets into that deterministic order of two immutable
snapshots are the cursors, valid for as long as both evaluations exist."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

from sliceboard.errors import InvalidInput, Issue
from sliceboard.evaluation.transitions import (
    BROKEN,
    FIXED,
    STILL_FOUND,
    STILL_MISSED,
    ground_truth_outcome,
)
from sliceboard.services.comparison import (
    NEW_FALSE_POSITIVE,
    REMOVED_FALSE_POSITIVE,
    RunDelta,
)

KINDS = (FIXED, BROKEN, STILL_MISSED, STILL_FOUND, NEW_FALSE_POSITIVE, REMOVED_FALSE_POSITIVE)


@dataclass(frozen=True)
class ComparedObject:
    kind: str
    item_id: int
    label: str
    ground_truth_id: int | None
    prediction_id: int | None  # the false positive (NEW: the candidate's, REMOVED: the baseline's)
    baseline_match_id: int | None  # the baseline prediction that found the ground truth
    candidate_match_id: int | None


@dataclass(frozen=True)
class ObjectPage:
    nodes: list[ComparedObject]
    cursors: list[str]
    total: int
    has_next: bool
    has_previous: bool


def _tag(delta: RunDelta, kind: str, label: str | None) -> str:
    comparison = delta.comparison
    return f"c{comparison.baseline.evaluation_id}.{delta.candidate.evaluation_id}.{kind}.{label}"


def _cursor(tag: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{tag}:{offset}".encode()).decode()


def _offset(tag: str, after: str | None) -> int:
    if after is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(after.encode()).decode()
        found, offset = text.rsplit(":", 1)
        if found != tag:
            raise ValueError
        return int(offset) + 1
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            [Issue("after", "cursor does not belong to this comparison's objects")]
        ) from exc


async def page_objects(
    delta: RunDelta, *, kind: str, label: str | None, first: int, after: str | None
) -> ObjectPage:
    if kind not in KINDS:
        raise InvalidInput([Issue("kind", f"must be one of {', '.join(KINDS)}")])
    tag = _tag(delta, kind, label)
    start = _offset(tag, after)
    base, cand = delta.comparison.baseline, delta.candidate
    nodes: list[ComparedObject] = []
    if kind in (NEW_FALSE_POSITIVE, REMOVED_FALSE_POSITIVE):
        run = cand if kind == NEW_FALSE_POSITIVE else base
        rows = await delta.false_positive_rows(kind, label)
        table = run.snapshot.table
        rows = rows[np.lexsort((rows, table.dt_item[rows]))]
        total = int(rows.shape[0])
        for p in rows[start : start + first].tolist():
            nodes.append(
                ComparedObject(
                    kind=kind,
                    item_id=int(run.snapshot.item_ids[table.dt_item[p]]),
                    label=run.snapshot.label_names[int(table.dt_label[p])],
                    ground_truth_id=None,
                    prediction_id=int(run.snapshot.dt_ids[p]),
                    baseline_match_id=None,
                    candidate_match_id=None,
                )
            )
    else:
        found = await delta.ground_truth()
        keep = found.kind(kind) & delta.comparison.ground_truth_scope(found, label)
        chosen = np.flatnonzero(keep)
        table = base.snapshot.table
        gt_rows = found.base_row[chosen]
        order = np.lexsort((gt_rows, table.gt_item[gt_rows]))
        chosen = chosen[order]
        total = int(chosen.shape[0])
        base_finder = ground_truth_outcome(
            table, delta.comparison.iou_threshold, delta.comparison.confidence_threshold
        ).finder
        cand_finder = ground_truth_outcome(
            cand.snapshot.table,
            delta.comparison.iou_threshold,
            delta.comparison.confidence_threshold,
        ).finder
        for k in chosen[start : start + first].tolist():
            b_row, c_row = int(found.base_row[k]), int(found.cand_row[k])
            b_dt, c_dt = int(base_finder[b_row]), int(cand_finder[c_row])
            nodes.append(
                ComparedObject(
                    kind=kind,
                    item_id=int(base.snapshot.item_ids[table.gt_item[b_row]]),
                    label=base.snapshot.label_names[int(table.gt_label[b_row])],
                    ground_truth_id=int(base.snapshot.gt_ids[b_row]),
                    prediction_id=None,
                    baseline_match_id=int(base.snapshot.dt_ids[b_dt]) if b_dt >= 0 else None,
                    candidate_match_id=int(cand.snapshot.dt_ids[c_dt]) if c_dt >= 0 else None,
                )
            )
    return ObjectPage(
        nodes=nodes,
        cursors=[_cursor(tag, start + k) for k in range(len(nodes))],
        total=total,
        has_next=start + first < total,
        has_previous=start > 0,
    )
