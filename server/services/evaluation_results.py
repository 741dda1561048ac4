"""Answers over a run's visible evaluation: metrics of any slice, and paging through its
true/false positives and misses.

Everything reads the columnar snapshot (loaded once per process and kept in a small LRU: a
snapshot never changes once written), masks it by the slice's items and aggregates; nothing is
re-matched at query time. Paging uses offsets into a deterministic order of that immutable
snapshot, so a cursor stays valid for as long as the evaluation exists.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from server.errors import FailedPrecondition, InvalidInput, Issue
from server.evaluation import (
    FALSE_POSITIVE,
    TRUE_POSITIVE,
    EvaluationInputError,
    coco_summary,
    threshold_metrics,
)
from server.evaluation.label_subset import pooled_pr_curve, summary_stat
from server.services.evaluation_snapshot import Snapshot
from server.services.slices import resolve_item_ids
from server.storage.tables import Evaluation, ModelRun, core

EVALUATION = core(Evaluation)
K = TypeVar("K")
V = TypeVar("V")
COCO_FIELDS = (
    "ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large",
    "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large",
)  # fmt: skip
KEYPOINT_FIELDS = (
    "ap", "ap50", "ap75", "ap_medium", "ap_large", "ar100", "ar50", "ar75", "ar_medium", "ar_large",
)  # fmt: skip


class _Lru(Generic[K, V]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


class SnapshotCache:
    """Loaded snapshots by evaluation id (immutable, so never stale), and reports computed from
    them; least recently used out."""

    def __init__(self, capacity: int = 4, reports: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, Snapshot] = OrderedDict()
        self._lock = asyncio.Lock()
        self.reports: _Lru[tuple[Any, ...], MetricsData] = _Lru(reports)

    async def get(self, session: AsyncSession, evaluation_id: int) -> Snapshot:
        async with self._lock:
            cached = self._items.get(evaluation_id)
            if cached is not None:
                self._items.move_to_end(evaluation_id)
                return cached
            blob = (
                await session.execute(
                    sa.select(EVALUATION.c.snapshot).where(EVALUATION.c.id == evaluation_id)
                )
            ).scalar()
            if blob is None:
                raise FailedPrecondition("the evaluation has no stored results")
            snapshot = await asyncio.to_thread(Snapshot.from_bytes, blob)
            self._items[evaluation_id] = snapshot
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            return snapshot


_CACHES: WeakKeyDictionary[AsyncEngine, SnapshotCache] = WeakKeyDictionary()


def snapshot_cache_for(engine: AsyncEngine) -> SnapshotCache:
    """The process's snapshot cache for one database."""
    cache = _CACHES.get(engine)
    if cache is None:
        cache = _CACHES[engine] = SnapshotCache()
    return cache


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


@dataclass(frozen=True)
class Page:
    evaluation_id: int
    start: int
    ids: list[int]
    total: int
    has_next: bool
    has_previous: bool
    start_cursor: str | None
    end_cursor: str | None
    ious: dict[int, float | None] = field(default_factory=dict)
    matched: dict[int, int | None] = field(default_factory=dict)


def _defined(value: float) -> float | None:
    return None if (math.isnan(value) or value < 0) else float(value)


async def _visible(
    session: AsyncSession, cache: SnapshotCache, run: ModelRun
) -> tuple[int, Snapshot]:
    if run.current_evaluation_id is None:
        raise FailedPrecondition(
            "the model run has no completed evaluation; call calculateEvaluationMetrics first"
        )
    return run.current_evaluation_id, await cache.get(session, run.current_evaluation_id)


async def _item_mask(
    session: AsyncSession,
    snapshot: Snapshot,
    run: ModelRun,
    filter: dict[str, Any] | None,
    slice_id: str | None,
) -> np.ndarray | None:
    if not filter and slice_id is None:
        return None
    ids = await resolve_item_ids(
        session, dataset_id=run.dataset_id, filter=filter, slice_id=slice_id, model_run_id=run.id
    )
    return np.isin(snapshot.item_ids, np.asarray(ids, dtype=np.int64))


def _label_mask(snapshot: Snapshot, labels: list[str] | None) -> np.ndarray | None:
    if labels is None:
        return None
    wanted = set(labels)
    return np.array([name in wanted for name in snapshot.label_names], dtype=bool)


def _check_threshold(snapshot: Snapshot, iou_threshold: float, path: str) -> None:
    try:
        snapshot.table.row_index(iou_threshold, 0)
    except EvaluationInputError as exc:
        raise InvalidInput([Issue(path, str(exc))]) from exc


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
    evaluation_id, snapshot = await _visible(session, cache, run)
    _check_threshold(snapshot, iou_threshold, "iouThreshold")
    if not math.isfinite(confidence_threshold):
        raise InvalidInput([Issue("confidenceThreshold", "must be a finite number")])
    mask = await _item_mask(session, snapshot, run, filter, slice_id)
    label_mask = _label_mask(snapshot, labels)
    key = (
        evaluation_id,
        None if mask is None else hashlib.blake2b(np.packbits(mask).tobytes()).hexdigest(),
        iou_threshold,
        confidence_threshold,
        None if labels is None else tuple(sorted(set(labels))),
    )
    cached = cache.reports.get(key)
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
    dt_sel, gt_sel = table.item_selection(mask)
    if label_mask is not None:
        dt_sel = dt_sel & label_mask[table.dt_label]
        gt_sel = gt_sel & label_mask[table.gt_label]
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
        ground_truth_count=int(gt_sel.sum()),
        prediction_count=int(dt_sel.sum()),
        coco=coco,
        per_label=rows,
        curves=Curves(snapshot, mask, label_mask, iou_threshold, tm.pr_curve),
        confusion_labels=list(names),
        confusion_counts=tm.confusion.astype(int).tolist(),
    )


def _cursor(evaluation_id: int, offset: int) -> str:
    return base64.urlsafe_b64encode(f"e{evaluation_id}:{offset}".encode()).decode()


def _offset(evaluation_id: int, after: str | None) -> int:
    if after is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(after.encode()).decode()
        tag, offset = text.split(":")
        if tag != f"e{evaluation_id}":
            raise ValueError
        return int(offset) + 1
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            [Issue("after", "cursor does not belong to this evaluation's results")]
        ) from exc


def _page(
    evaluation_id: int, ordered: np.ndarray, ids: np.ndarray, first: int, after: str | None
) -> tuple[np.ndarray, Page]:
    start = _offset(evaluation_id, after)
    chosen = ordered[start : start + first]
    page = Page(
        evaluation_id=evaluation_id,
        start=start,
        ids=[int(i) for i in ids[chosen]],
        total=int(ordered.shape[0]),
        has_next=start + first < ordered.shape[0],
        has_previous=start > 0,
        start_cursor=_cursor(evaluation_id, start) if chosen.size else None,
        end_cursor=_cursor(evaluation_id, start + chosen.shape[0] - 1) if chosen.size else None,
    )
    return chosen, page


def position_cursor(page: Page, k: int) -> str:
    """The cursor of the ``k``-th row of ``page``."""
    return _cursor(page.evaluation_id, page.start + k)


def _range(values: np.ndarray, bounds: dict[str, Any] | None) -> np.ndarray:
    keep = np.ones(values.shape[0], dtype=bool)
    if bounds:
        if bounds.get("min") is not None:
            keep &= values >= bounds["min"]
        if bounds.get("max") is not None:
            keep &= values <= bounds["max"]
    return keep


async def browse_predictions(
    session: AsyncSession,
    cache: SnapshotCache,
    *,
    run: ModelRun,
    filter: dict[str, Any] | None,
    order_by: str | None,
    iou_threshold: float,
    first: int,
    after: str | None,
) -> Page:
    """Predictions of the visible evaluation at one IoU threshold, filtered and ordered."""
    evaluation_id, snapshot = await _visible(session, cache, run)
    _check_threshold(snapshot, iou_threshold, "iouThreshold")
    filter = filter or {}
    table = snapshot.table
    mask = await _item_mask(session, snapshot, run, filter.get("items"), None)
    row = table.row_index(iou_threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    state = table.dt_state[row]
    matched = table.dt_gt[t0]
    iou = np.where(matched >= 0, table.dt_iou[t0].astype(np.float64), 0.0)
    keep, _ = table.item_selection(mask)
    outcome = filter.get("outcome")
    if outcome == "TRUE_POSITIVE":
        keep = keep & (state == TRUE_POSITIVE)
    elif outcome == "FALSE_POSITIVE":
        keep = keep & (state == FALSE_POSITIVE)
    label_mask = _label_mask(snapshot, filter.get("labels"))
    if label_mask is not None:
        keep &= label_mask[table.dt_label]
    keep &= _range(iou, filter.get("iou_range")) & _range(
        table.dt_score, filter.get("confidence_range")
    )
    positions = np.flatnonzero(keep)
    key = {
        "IOU_ASC": iou, "IOU_DESC": -iou,
        "CONFIDENCE_ASC": table.dt_score, "CONFIDENCE_DESC": -table.dt_score,
    }.get(order_by or "")  # fmt: skip
    if key is not None:
        positions = positions[np.argsort(key[positions], kind="stable")]
    chosen, page = _page(evaluation_id, positions, snapshot.dt_ids, first, after)
    for p in chosen:
        dt_id = int(snapshot.dt_ids[p])
        page.ious[dt_id] = float(iou[p]) if matched[p] >= 0 else None
        page.matched[dt_id] = int(snapshot.gt_ids[matched[p]]) if matched[p] >= 0 else None
    return page


async def browse_false_negatives(
    session: AsyncSession,
    cache: SnapshotCache,
    *,
    run: ModelRun,
    filter: dict[str, Any] | None,
    labels: list[str] | None,
    iou_threshold: float,
    first: int,
    after: str | None,
) -> Page:
    """Ground truth no prediction matched at ``iou_threshold`` (crowd/ignored regions excluded)."""
    evaluation_id, snapshot = await _visible(session, cache, run)
    _check_threshold(snapshot, iou_threshold, "iouThreshold")
    table = snapshot.table
    mask = await _item_mask(session, snapshot, run, filter, None)
    row = table.row_index(iou_threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    _, keep = table.item_selection(mask)
    keep = keep & (table.gt_dt[t0] < 0) & ~table.gt_iscrowd & ~table.gt_ignore
    label_mask = _label_mask(snapshot, labels)
    if label_mask is not None:
        keep &= label_mask[table.gt_label]
    _, page = _page(evaluation_id, np.flatnonzero(keep), snapshot.gt_ids, first, after)
    return page


async def prediction_matches(
    session: AsyncSession,
    cache: SnapshotCache,
    *,
    run: ModelRun,
    prediction_ids: list[int],
    iou_threshold: float = 0.5,
) -> dict[int, tuple[float | None, int | None]]:
    """(IoU, matched annotation row id) of predictions in the visible evaluation; predictions
    uploaded after it are absent."""
    if run.current_evaluation_id is None:
        return {}
    snapshot = await cache.get(session, run.current_evaluation_id)
    table = snapshot.table
    try:
        row = table.row_index(iou_threshold, 0)
    except EvaluationInputError:
        return {}
    t0 = int(np.searchsorted(table.all_rows, row))
    wanted = np.asarray(prediction_ids, dtype=np.int64)
    at = np.searchsorted(snapshot.dt_ids, wanted)
    at = np.minimum(at, max(snapshot.dt_ids.shape[0] - 1, 0))
    out: dict[int, tuple[float | None, int | None]] = {}
    for dt_id, p in zip(wanted.tolist(), at.tolist(), strict=True):
        if snapshot.dt_ids.shape[0] == 0 or snapshot.dt_ids[p] != dt_id:
            continue
        g = int(table.dt_gt[t0, p])
        out[dt_id] = (
            (float(table.dt_iou[t0, p]), int(snapshot.gt_ids[g])) if g >= 0 else (None, None)
        )
    return out
