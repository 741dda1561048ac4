"""Metrics of any slice of a run's visible evaluation.

Everything reads the columnar snapshot (loaded once per runtime and kept in a small LRU: a
snapshot never changes once written), masks it by the slice's items and aggregates; nothing is
re-matched at query time. Paging through true/false positives and misses is in
browse.py.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.compute.shared_arrays import SharedSnapshot
from sliceboard.errors import InvalidInput, Issue
from sliceboard.evaluation import EvaluationInputError, ThresholdMetrics
from sliceboard.evaluation.semantic import (
    FALSE_NEGATIVE,
    FALSE_POSITIVE,
    GROUND_TRUTH,
    PREDICTION,
)
from sliceboard.services.evaluation.cache import (
    Selection,
    SnapshotCache,
    check_threshold,
    selected_items,
    selected_labels,
    visible_snapshot,
)
from sliceboard.services.evaluation.report_parts import SegmentationPart, Summary
from sliceboard.services.evaluation.snapshot import Snapshot
from sliceboard.storage.tables import ModelRun

T = TypeVar("T")


@dataclass
class LabelRow:
    """One label's numbers in a slice (the GraphQL ``LabelMetrics`` is this record)."""

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


@dataclass(frozen=True)
class SegmentRow:
    """One false-positive or false-negative semantic segment."""

    row_id: int  # the prediction (false positive) or annotation (false negative) row id
    index: int
    label: str
    pixels: int
    iou: float  # with the segment it paired with across labels, else 0
    paired_label: str | None


@dataclass(frozen=True)
class SegmentPage:
    rows: list[SegmentRow]
    start: int
    total: int


def _defined(value: float) -> float | None:
    return None if (math.isnan(value) or value < 0) else float(value)


class Report:
    """One slice's metrics over an evaluation.

    The counts are computed at once; the COCO numbers, the threshold metrics and the curves on
    first use, once, through the cache (in its report worker process when it has one), and
    kept with the report. A client asking only for the COCO numbers never pays for the rest,
    concurrent requests for the same slice await the same computation, and every part of this
    report runs before any part of a report created after it.
    """

    def __init__(
        self,
        snapshot: Snapshot,
        mask: np.ndarray | None,
        label_mask: np.ndarray | None,
        iou_threshold: float,
        confidence_threshold: float,
        cache: SnapshotCache,
        shared: SharedSnapshot | None,
        summary_from: Report | None = None,
    ) -> None:
        self._snapshot = snapshot
        # A report of the same items and labels at other thresholds: its COCO summary is ours.
        self._summary_from = summary_from
        self._mask = mask
        self._label_mask = label_mask
        self._iou_threshold = iou_threshold
        self._confidence_threshold = confidence_threshold
        self._cache = cache
        self._shared = shared
        self._rank = cache.compute.next_rank()
        self._parts: dict[str, asyncio.Future[Any]] = {}
        table = snapshot.table
        dt_rows, gt_rows = table.item_rows(mask)  # costs the slice, not the table
        if label_mask is not None:
            dt_rows = dt_rows[label_mask[table.dt_label[dt_rows]]]
            gt_rows = gt_rows[label_mask[table.gt_label[gt_rows]]]
        self.item_count = int(table.n_items if mask is None else np.count_nonzero(mask))
        self.ground_truth_count = int(gt_rows.shape[0])
        self.prediction_count = int(dt_rows.shape[0])

    def _start(self, part: str, *args: Any) -> asyncio.Future[Any]:
        future = self._parts.get(part)
        if future is None:
            future = self._parts[part] = asyncio.ensure_future(
                self._cache.part(self._rank, self._snapshot, self._shared, part, args)
            )
        return future

    @staticmethod
    async def _result(future: asyncio.Future[T]) -> T:
        # shielded: a client that goes away must not cancel what others await
        result: T = await asyncio.shield(future)
        return result

    def _summary(self) -> asyncio.Future[Summary]:
        if self._summary_from is not None:
            return self._summary_from._summary()
        return self._start("summary", self._mask, self._label_mask)

    def _thresholds(self) -> asyncio.Future[ThresholdMetrics]:
        chosen = None if self._label_mask is None else np.flatnonzero(self._label_mask).tolist()
        return self._start(
            "thresholds", self._mask, self._iou_threshold, self._confidence_threshold, chosen
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

    @property
    def semantic_labels(self) -> list[str]:
        return list(self._snapshot.semantic_labels)

    async def segmentation(self) -> SegmentationPart | None:
        """The slice's semantic numbers; None when the run has no semantic mask."""
        if self._snapshot.semantic is None:
            return None
        return await self._result(self._start("segmentation", self._mask))  # type: ignore[no-any-return]

    def segment_mistakes(self, *, false_positives: bool, start: int, limit: int) -> SegmentPage:
        """False-positive (predicted) or false-negative (ground-truth) segments of the slice,
        in item order then mask index, ``limit`` from position ``start``."""
        table = self._snapshot.semantic
        if table is None:
            return SegmentPage([], start, 0)
        side, outcome = (
            (PREDICTION, FALSE_POSITIVE) if false_positives else (GROUND_TRUTH, FALSE_NEGATIVE)
        )
        keep = (table.segment_side == side) & (table.segment_outcome == outcome)
        if self._mask is not None:
            keep &= self._mask[table.segment_item]
        positions = np.flatnonzero(keep)
        names = self._snapshot.semantic_labels
        rows = [
            SegmentRow(
                row_id=int(table.segment_row[k]),
                index=int(table.segment_index[k]),
                label=names[int(table.segment_label[k])],
                pixels=int(table.segment_area[k]),
                iou=float(table.segment_iou[k]),
                paired_label=None
                if table.segment_partner[k] < 0
                else names[int(table.segment_partner[k])],
            )
            for k in positions[start : start + limit].tolist()
        ]
        return SegmentPage(rows, start, int(positions.shape[0]))

    async def overall_ratios(self) -> dict[str, float | None]:
        """Micro-averaged precision, recall and F1 over the report's labels (None: undefined)."""
        overall = (await self._result(self._thresholds())).overall
        return {
            "precision": _defined(float(overall.precision)),
            "recall": _defined(float(overall.recall)),
            "f1": _defined(float(overall.f1)),
        }

    async def confusion(self) -> tuple[list[str], list[list[int]]]:
        """(labels, counts): the last row and column are background."""
        tm = await self._result(self._thresholds())
        return list(self._snapshot.label_names), tm.confusion.astype(int).tolist()

    async def curve(
        self, label: str | None, limit: int | None = None
    ) -> list[tuple[float, float, float]]:
        """(recall, precision, confidence) by descending confidence; all labels pooled when
        ``label`` is None, nothing for a label the report does not cover. ``limit``: at most
        so many points, spread evenly (``evenly_spaced_positions``) - taken from the arrays,
        since a pooled curve has a point per prediction and turning 377,000 of them into
        Python tuples held the event loop ~100 ms for a page that draws 1,000."""
        names = self._snapshot.label_names
        if label is None:
            recall, precision, confidence = await self._result(
                self._start("pooled curve", self._mask, self._iou_threshold, self._label_mask)
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
        if limit is not None and recall.shape[0] > limit:
            keep = evenly_spaced_positions(recall.shape[0], limit)
            recall, precision, confidence = recall[keep], precision[keep], confidence[keep]
        return list(zip(recall.tolist(), precision.tolist(), confidence.tolist(), strict=True))


def evenly_spaced_positions(count: int, limit: int) -> np.ndarray:
    """Positions of at most ``limit`` of ``count`` points, first and last kept: position
    ``round(k * (count - 1) / (limit - 1))`` for k < limit (ties to even, as Python's round)."""
    if count <= limit:
        return np.arange(count)
    if limit <= 1:
        return np.arange(count - 1, count)
    step = (count - 1) / (limit - 1)
    positions: np.ndarray = np.rint(np.arange(limit) * step).astype(np.int64)
    return positions


#: The thresholds ``ModelRun.metrics`` defaults to: the report of a new evaluation computed as
#: it is stored (``keep_new_evaluation``) is the one a query without arguments asks for.
DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_CONFIDENCE_THRESHOLD = 0.0


def _report_key(
    evaluation_id: int,
    selection: Selection | None,
    iou_threshold: float,
    confidence_threshold: float,
    labels: list[str] | None,
) -> tuple[Any, ...]:
    return (
        evaluation_id,
        None if selection is None else selection.digest,
        iou_threshold,
        confidence_threshold,
        None if labels is None else tuple(sorted(set(labels))),
    )


async def keep_new_evaluation(cache: SnapshotCache, evaluation_id: int, blob: bytes) -> None:
    """Holds an evaluation this process just computed and computes its whole-run report at the
    default thresholds (COCO numbers, per-label and threshold metrics), so the first metrics
    query after the evaluation reads memory instead of loading the snapshot, starting the
    report worker and building its indexes (2.4 s at 10,000 items, ~750k predictions)."""
    snapshot = await cache.adopt(evaluation_id, blob)
    try:
        snapshot.table.row_index(DEFAULT_IOU_THRESHOLD, 0)
    except EvaluationInputError:  # thresholds without 0.5: no default report to compute
        return
    key = _report_key(
        evaluation_id, None, DEFAULT_IOU_THRESHOLD, DEFAULT_CONFIDENCE_THRESHOLD, None
    )
    report: Report | None = cache.reports.get(key)
    if report is None:
        report = Report(
            snapshot,
            None,
            None,
            DEFAULT_IOU_THRESHOLD,
            DEFAULT_CONFIDENCE_THRESHOLD,
            cache,
            cache.shared(evaluation_id),
        )
        cache.reports.put(key, report)
    same_items = _report_key(evaluation_id, None, -1.0, -1.0, None)
    if cache.summaries.get(same_items) is None:
        cache.summaries.put(same_items, report)
    await report.per_label()  # the summary and threshold parts, each once


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
    async with cache.admitted():
        evaluation_id, snapshot = await visible_snapshot(session, cache, run)
        check_threshold(snapshot, iou_threshold, "iouThreshold")
        if not math.isfinite(confidence_threshold):
            raise InvalidInput([Issue("confidenceThreshold", "must be a finite number")])
        selection = await selected_items(
            session, snapshot, run, filter, slice_id, cache=cache, evaluation_id=evaluation_id
        )
        mask = None if selection is None else selection.mask
        label_mask = selected_labels(snapshot, labels)
        key = _report_key(evaluation_id, selection, iou_threshold, confidence_threshold, labels)
        report: Report | None = cache.reports.get(key)
        if report is None:
            # Moving a threshold slider asks for a report per threshold; the COCO summary
            # (per-label AP, a third of a new report's work) is the same for all of them.
            same_items = _report_key(evaluation_id, selection, -1.0, -1.0, labels)
            sibling = cache.summaries.get(same_items)
            report = Report(
                snapshot,
                mask,
                label_mask,
                iou_threshold,
                confidence_threshold,
                cache,
                cache.shared(evaluation_id),
                summary_from=sibling,
            )
            cache.reports.put(key, report)
            if sibling is None:
                cache.summaries.put(same_items, report)
    return report
