"""Which false positives a candidate added or removed against the baseline.

The snapshots say which predictions are false positives; pairing them across runs needs their
geometry, so this part reads both runs' predictions once (the only part of a comparison that
does) and keeps the answer in the snapshot cache. Pairs are formed within (item, label) by the
family's own similarity kernel (box IoU, mask IoU, OKS, ...) at the comparison's IoU threshold.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.evaluation.transitions import counted_false_positives, pair_false_positives
from sliceboard.services.evaluation.inputs import UnsupportedRun, evaluation_family
from sliceboard.services.evaluation.snapshot import Snapshot
from sliceboard.storage.evaluation_data import ObjectRows, load_run_predictions
from sliceboard.storage.tables import ModelRun


@dataclass(frozen=True)
class FalsePositiveChange:
    """Prediction rows of each snapshot: the candidate's unpaired false positives (new) and the
    baseline's (removed)."""

    new: np.ndarray  # int64, candidate snapshot rows, ascending
    removed: np.ndarray  # int64, baseline snapshot rows, ascending


def _take(rows: ObjectRows, index: np.ndarray) -> ObjectRows:
    return replace(
        rows,
        ids=rows.ids[index],
        item_ids=rows.item_ids[index],
        label_codes=rows.label_codes[index],
        type_codes=rows.type_codes[index],
        geometries=[rows.geometries[k] for k in index.tolist()] if rows.geometries else [],
        areas=rows.areas[index],
        iscrowd=rows.iscrowd[index],
        confidences=rows.confidences[index],
        boxes=None if rows.boxes is None else rows.boxes[index],
    )


def _located(
    snapshot: Snapshot, fp_rows: np.ndarray, rows: ObjectRows
) -> tuple[np.ndarray, np.ndarray]:
    """(snapshot rows still stored, their index in ``rows``): predictions deleted since the
    evaluation cannot be paired and stay unpaired."""
    ids = snapshot.dt_ids[fp_rows]
    at = np.minimum(np.searchsorted(rows.ids, ids), max(len(rows) - 1, 0))
    present = (rows.ids[at] == ids) if len(rows) else np.zeros(ids.shape[0], dtype=bool)
    return fp_rows[present], at[present]


async def false_positive_change(
    session: AsyncSession,
    *,
    base_run: ModelRun,
    base: Snapshot,
    cand_run: ModelRun,
    cand: Snapshot,
    iou_threshold: float,
    confidence_threshold: float,
) -> FalsePositiveChange:
    base_fp = counted_false_positives(base.table, iou_threshold, confidence_threshold)
    cand_fp = counted_false_positives(cand.table, iou_threshold, confidence_threshold)
    base_rows, sizes = await load_run_predictions(session=session, run=base_run)
    cand_rows, _ = await load_run_predictions(session=session, run=cand_run)
    return await asyncio.to_thread(
        _paired,
        base,
        base_fp,
        base_rows,
        cand,
        cand_fp,
        cand_rows,
        sizes,
        iou_threshold,
    )


def _paired(
    base: Snapshot,
    base_fp: np.ndarray,
    base_rows: ObjectRows,
    cand: Snapshot,
    cand_fp: np.ndarray,
    cand_rows: ObjectRows,
    sizes: dict[int, tuple[int | None, int | None]],
    iou_threshold: float,
) -> FalsePositiveChange:
    base_kept, base_at = _located(base, base_fp, base_rows)
    cand_kept, cand_at = _located(cand, cand_fp, cand_rows)
    base_sub, cand_sub = _take(base_rows, base_at), _take(cand_rows, cand_at)
    names = sorted(set(base.label_names) | set(cand.label_names))
    code = {name: k for k, name in enumerate(names)}

    def keys(snapshot: Snapshot, kept: np.ndarray) -> np.ndarray:
        label_code = np.array([code[n] for n in snapshot.label_names], dtype=np.int64)
        item_id = snapshot.item_ids[snapshot.table.dt_item[kept]]
        out: np.ndarray = item_id * len(names) + label_code[snapshot.table.dt_label[kept]]
        return out

    try:
        family = evaluation_family(base_sub, cand_sub)
        kernel = family.kernel(base_sub, cand_sub, sizes)
    except UnsupportedRun:
        kernel = None

    def similarity(b: np.ndarray, c: np.ndarray) -> np.ndarray:
        if kernel is None:
            return np.zeros(b.shape[0])
        found: np.ndarray = np.asarray(kernel.similarity(c, b, np.zeros(b.shape[0], dtype=bool)))
        return found

    base_paired, cand_paired = pair_false_positives(
        keys(base, base_kept), keys(cand, cand_kept), similarity, iou_threshold
    )
    removed = np.setdiff1d(base_fp, base_kept[base_paired])
    new = np.setdiff1d(cand_fp, cand_kept[cand_paired])
    return FalsePositiveChange(new=new.astype(np.int64), removed=removed.astype(np.int64))
