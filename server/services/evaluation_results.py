"""Answers over a run's visible evaluation: metrics of any slice, and paging through its
true/false positives and misses.

Everything reads the columnar snapshot (loaded once per process and kept in a small LRU: a
snapshot never changes once written), masks it by the slice's items and aggregates; nothing is
re-matched at query time. Paging uses offsets into a deterministic order of that immutable
snapshot, so a cursor stays valid for as long as the evaluation exists.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import InvalidInput, Issue
from server.evaluation import (
    coco_summary,
    threshold_metrics,
)
from server.evaluation.label_subset import pooled_pr_curve, summary_stat
from server.services.evaluation_cache import (
    SnapshotCache,
    check_threshold,
    selected_items,
    selected_labels,
    visible_snapshot,
)
from server.services.evaluation_snapshot import Snapshot
from server.storage.tables import ModelRun

COCO_FIELDS = (
    "ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large",
    "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large",
)  # fmt: skip
KEYPOINT_FIELDS = (
    "ap", "ap50", "ap75", "ap_medium", "ap_large", "ar100", "ar50", "ar75", "ar_medium", "ar_large",
)  # fmt: skip


@dataclass(frozen=True)
class LabelRow:
    label: str
    ap: float | None
    ap50: float | None
    ar: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    true_positives: int
    false_positives: int
    false_negatives: int


class Curves:
    """PR curves of one report, turned into points only for the label a client asks for."""

    def __init__(
        self,
        snapshot: Snapshot,
        mask: np.ndarray | None,
        label_mask: np.ndarray | None,
        iou_threshold: float,
        per_label: Any,
    ) -> None:
        self._snapshot = snapshot
        self._mask = mask
        self._label_mask = label_mask
        self._iou_threshold = iou_threshold
        self._per_label = per_label

    def points(self, label: str | None) -> list[tuple[float, float, float]]:
        """(recall, precision, confidence) by descending confidence; all labels pooled when
        ``label`` is None, nothing for a label the report does not cover."""
        if label is None:
            recall, precision, confidence = pooled_pr_curve(
                self._snapshot.table, self._mask, self._iou_threshold, self._label_mask
            )
        else:
            names = self._snapshot.label_names
            if label not in names:
                return []
            at = self._per_label.label == names.index(label)
            recall = self._per_label.recall[at]
            precision = self._per_label.precision[at]
            confidence = self._per_label.confidence[at]
        return list(zip(recall.tolist(), precision.tolist(), confidence.tolist(), strict=True))


@dataclass(frozen=True)
class MetricsData:
    item_count: int
    ground_truth_count: int
    prediction_count: int
    coco: dict[str, float]
    per_label: list[LabelRow]
    curves: Curves
    confusion_labels: list[str]
    confusion_counts: list[list[int]]


def _defined(value: float) -> float | None:
    return None if (math.isnan(value) or value < 0) else float(value)


def _coco_numbers(
    snapshot: Snapshot, mask: np.ndarray | None, label_mask: np.ndarray | None
) -> tuple[dict[str, float], Any]:
    summary = coco_summary(snapshot.table, mask, snapshot.kind)  # type: ignore[arg-type]
    if label_mask is None or (summary.labels.shape[0] == 1 and summary.labels[0] == -1):
        stats = [float(s) for s in summary.stats]
    else:
        columns = np.flatnonzero(label_mask[summary.labels])
        stats = _stats_for_columns(summary, columns, snapshot.kind)
    names = KEYPOINT_FIELDS if snapshot.kind == "keypoints" else COCO_FIELDS
    coco = dict.fromkeys(COCO_FIELDS, -1.0)
    coco.update(zip(names, stats, strict=True))
    return coco, summary


def _stats_for_columns(summary: Any, columns: np.ndarray, kind: str) -> list[float]:
    dets = [int(m) for m in summary.max_detections]
    top = dets[-1]

    def ap(iou: float | None = None, area: str = "all") -> float:
        return summary_stat(
            summary,
            columns,
            average_precision=True,
            area=area,
            max_detections=top,
            iou_threshold=iou,
        )

    def ar(max_det: int, iou: float | None = None, area: str = "all") -> float:
        return summary_stat(
            summary,
            columns,
            average_precision=False,
            area=area,
            max_detections=max_det,
            iou_threshold=iou,
        )

    if kind == "keypoints":
        return [ap(), ap(0.5), ap(0.75), ap(area="medium"), ap(area="large"),
                ar(top), ar(top, 0.5), ar(top, 0.75), ar(top, area="medium"), ar(top, area="large")]  # fmt: skip
    return [ap(), ap(0.5), ap(0.75), ap(area="small"), ap(area="medium"), ap(area="large"),
            ar(dets[0]), ar(dets[min(1, len(dets) - 1)]), ar(top),
            ar(top, area="small"), ar(top, area="medium"), ar(top, area="large")]  # fmt: skip


async def metrics_report(
    session: AsyncSession,
    cache: SnapshotCache,
    *,
    run: ModelRun,
    filter: dict[str, Any] | None,
    slice_id: str | None,
    iou_threshold: float,
    confidence_threshold: float,
    labels: list[str] | None,
) -> MetricsData:
    """Metrics of the items a filter/slice selects, from the run's visible evaluation.

    Reports are kept per (evaluation, selected items, thresholds, labels): an evaluation never
    changes, so a dashboard asking again for the same slice is answered from memory.
    """
    evaluation_id, snapshot = await visible_snapshot(session, cache, run)
    check_threshold(snapshot, iou_threshold, "iouThreshold")
    if not math.isfinite(confidence_threshold):
        raise InvalidInput([Issue("confidenceThreshold", "must be a finite number")])
    mask = await selected_items(session, snapshot, run, filter, slice_id)
    label_mask = selected_labels(snapshot, labels)
    key = (
        evaluation_id,
        None if mask is None else hashlib.blake2b(np.packbits(mask).tobytes()).hexdigest(),
        iou_threshold,
        confidence_threshold,
        None if labels is None else tuple(sorted(set(labels))),
    )
    cached: MetricsData | None = cache.reports.get(key)
    if cached is None:
        cached = await asyncio.to_thread(
            _report, snapshot, mask, label_mask, iou_threshold, confidence_threshold
        )
        cache.reports.put(key, cached)
    return cached


def _report(
    snapshot: Snapshot,
    mask: np.ndarray | None,
    label_mask: np.ndarray | None,
    iou_threshold: float,
    confidence_threshold: float,
) -> MetricsData:
    table = snapshot.table
    names = snapshot.label_names
    coco, summary = _coco_numbers(snapshot, mask, label_mask)
    chosen = None if label_mask is None else [int(k) for k in np.flatnonzero(label_mask)]
    tm = threshold_metrics(table, mask, iou_threshold, confidence_threshold, chosen)
    dt_rows, gt_rows = table.item_rows(mask)  # costs the slice, not the table
    if label_mask is not None:
        dt_rows = dt_rows[label_mask[table.dt_label[dt_rows]]]
        gt_rows = gt_rows[label_mask[table.gt_label[gt_rows]]]
    column_of = {int(k): c for c, k in enumerate(summary.labels)}
    rows = []
    for j, k in enumerate(tm.labels):
        c = column_of.get(int(k))
        rows.append(
            LabelRow(
                label=names[int(k)],
                ap=None if c is None else _defined(float(summary.ap[c])),
                ap50=None if c is None else _defined(float(summary.ap50[c])),
                ar=None if c is None else _defined(float(summary.ar[c])),
                precision=_defined(float(tm.per_label.precision[j])),
                recall=_defined(float(tm.per_label.recall[j])),
                f1=_defined(float(tm.per_label.f1[j])),
                true_positives=int(tm.per_label.tp[j]),
                false_positives=int(tm.per_label.fp[j]),
                false_negatives=int(tm.per_label.fn[j]),
            )
        )
    return MetricsData(
        item_count=int(table.n_items if mask is None else mask.sum()),
        ground_truth_count=int(gt_rows.shape[0]),
        prediction_count=int(dt_rows.shape[0]),
        coco=coco,
        per_label=rows,
        curves=Curves(snapshot, mask, label_mask, iou_threshold, tm.pr_curve),
        confusion_labels=list(names),
        confusion_counts=tm.confusion.astype(int).tolist(),
    )
