"""Answers over a run's visible evaluation: metrics of any slice, and paging through its
true/false positives and misses.

Everything reads the columnar snapshot (loaded once per process and kept in a small LRU: a
snapshot never changes once written), masks it by the slice's items and aggregates; nothing is
re-matched at query time. Paging uses offsets into a deterministic order of that immutable
snapshot, so a cursor stays valid for as long as the evaluation exists.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

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
from server.services.ordered_compute import OrderedCompute
from server.storage.tables import ModelRun

T = TypeVar("T")

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


def _defined(value: float) -> float | None:
    return None if (math.isnan(value) or value < 0) else float(value)


def _coco_numbers(
    snapshot: Snapshot, summary: Any, label_mask: np.ndarray | None
) -> dict[str, float]:
    if label_mask is None or (summary.labels.shape[0] == 1 and summary.labels[0] == -1):
        stats = [float(s) for s in summary.stats]
    else:
        columns = np.flatnonzero(label_mask[summary.labels])
        stats = _stats_for_columns(summary, columns, snapshot.kind)
    names = KEYPOINT_FIELDS if snapshot.kind == "keypoints" else COCO_FIELDS
    coco = dict.fromkeys(COCO_FIELDS, -1.0)
    coco.update(zip(names, stats, strict=True))
    return coco


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


@dataclass(frozen=True)
class _Summary:
    coco: dict[str, float]
    labels: np.ndarray
    ap: np.ndarray
    ap50: np.ndarray
    ar: np.ndarray


class Report:
    """One slice's metrics over an evaluation.

    The counts are computed at once; the COCO numbers, the threshold metrics and the curves on
    first use, once, on the cache's compute thread, and kept with the report. A client asking
    only for the COCO numbers never pays for the rest, concurrent requests for the same slice
    await the same computation, and every part of this report runs before any part of a
    report created after it.
    """

    def __init__(
        self,
        snapshot: Snapshot,
        mask: np.ndarray | None,
        label_mask: np.ndarray | None,
        iou_threshold: float,
        confidence_threshold: float,
        compute: OrderedCompute,
    ) -> None:
        self._snapshot = snapshot
        self._mask = mask
        self._label_mask = label_mask
        self._iou_threshold = iou_threshold
        self._confidence_threshold = confidence_threshold
        self._compute = compute
        self._rank = compute.next_rank()
        self._parts: dict[Any, Future[Any]] = {}
        table = snapshot.table
        dt_rows, gt_rows = table.item_rows(mask)  # costs the slice, not the table
        if label_mask is not None:
            dt_rows = dt_rows[label_mask[table.dt_label[dt_rows]]]
            gt_rows = gt_rows[label_mask[table.gt_label[gt_rows]]]
        self.item_count = int(table.n_items if mask is None else np.count_nonzero(mask))
        self.ground_truth_count = int(gt_rows.shape[0])
        self.prediction_count = int(dt_rows.shape[0])

    def _start(self, key: Any, work: Callable[[], T]) -> Future[T]:
        future = self._parts.get(key)
        if future is None:
            future = self._parts[key] = self._compute.submit(self._rank, work)
        return future

    @staticmethod
    async def _result(future: Future[T]) -> T:
        # shielded: a client that goes away must not cancel what others await
        result: T = await asyncio.shield(asyncio.wrap_future(future))
        return result

    def _summary(self) -> Future[_Summary]:
        return self._start("summary", self._compute_summary)

    def _compute_summary(self) -> _Summary:
        """The COCO numbers and per-label AP/AR, without the accumulated arrays (megabytes a
        report would otherwise keep in the cache for nothing)."""
        snapshot = self._snapshot
        # COCO's numbers read precision at the last maxDets only
        summary = coco_summary(snapshot.table, self._mask, snapshot.kind, all_precision=False)  # type: ignore[arg-type]
        return _Summary(
            coco=_coco_numbers(snapshot, summary, self._label_mask),
            labels=summary.labels,
            ap=summary.ap,
            ap50=summary.ap50,
            ar=summary.ar,
        )

    def _thresholds(self) -> Future[Any]:
        chosen = None if self._label_mask is None else np.flatnonzero(self._label_mask).tolist()
        return self._start(
            "thresholds",
            lambda: threshold_metrics(
                self._snapshot.table,
                self._mask,
                self._iou_threshold,
                self._confidence_threshold,
                chosen,
            ),
        )

    async def coco(self) -> dict[str, float]:
        return (await self._result(self._summary())).coco

    async def per_label(self) -> list[LabelRow]:
        summary_part, thresholds_part = self._summary(), self._thresholds()  # both queued now
        summary = await self._result(summary_part)
        tm = await self._result(thresholds_part)
        names = self._snapshot.label_names
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
        return rows

    async def confusion(self) -> tuple[list[str], list[list[int]]]:
        """(labels, counts): the last row and column are background."""
        tm = await self._result(self._thresholds())
        return list(self._snapshot.label_names), tm.confusion.astype(int).tolist()

    async def curve(self, label: str | None) -> list[tuple[float, float, float]]:
        """(recall, precision, confidence) by descending confidence; all labels pooled when
        ``label`` is None, nothing for a label the report does not cover."""
        names = self._snapshot.label_names
        if label is None:
            recall, precision, confidence = await self._result(
                self._start(
                    "pooled curve",
                    lambda: pooled_pr_curve(
                        self._snapshot.table, self._mask, self._iou_threshold, self._label_mask
                    ),
                )
            )
        elif label not in names:
            return []
        else:
            curve = (await self._result(self._thresholds())).pr_curve
            at = curve.label == names.index(label)
            recall, precision, confidence = (
                curve.recall[at],
                curve.precision[at],
                curve.confidence[at],
            )
        return list(zip(recall.tolist(), precision.tolist(), confidence.tolist(), strict=True))


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
) -> Report:
    """Metrics of the items a filter/slice selects, from the run's visible evaluation.

    Reports are kept per (evaluation, selected items, thresholds, labels): an evaluation never
    changes, so a dashboard asking again for the same slice is answered from memory.
    """
    evaluation_id, snapshot = await visible_snapshot(session, cache, run)
    check_threshold(snapshot, iou_threshold, "iouThreshold")
    if not math.isfinite(confidence_threshold):
        raise InvalidInput([Issue("confidenceThreshold", "must be a finite number")])
    selection = await selected_items(
        session, snapshot, run, filter, slice_id, cache=cache, evaluation_id=evaluation_id
    )
    mask = None if selection is None else selection.mask
    label_mask = selected_labels(snapshot, labels)
    key = (
        evaluation_id,
        None if selection is None else selection.digest,
        iou_threshold,
        confidence_threshold,
        None if labels is None else tuple(sorted(set(labels))),
    )
    report: Report | None = cache.reports.get(key)
    if report is None:
        report = Report(
            snapshot, mask, label_mask, iou_threshold, confidence_threshold, cache.compute
        )
        cache.reports.put(key, report)
    return report
