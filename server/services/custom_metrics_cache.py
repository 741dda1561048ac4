"""A run's custom metrics as numpy columns, cached per process and keyed by version counters.

A slice query then costs a boolean mask and a few segmented reductions, instead of reading and
grouping rows in SQL. Uploaded metrics bump ``model_run.custom_metrics_version`` and prediction
changes bump ``data_version``; every query reads both (one cheap SELECT) and reloads on a
mismatch, so API replicas never serve stale values.

Layout: one :class:`MetricBlock` per (metric name, source); inside a block, entries are sorted
by (confidence key, item, feature, level, nested feature) once at load time - the order
:func:`server.evaluation.aggregation.rollup` needs - so queries never sort.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from server.evaluation.aggregation import FEATURE, LEAF, ROW, Aggregation, FloatArray, IntArray
from server.storage import custom_metrics as store

#: Where a metric's values come from: uploadCustomMetrics, or PredictionInput.customMetrics.
RUN, PREDICTION = "RUN", "PREDICTION"
#: Block kinds: a plain scalar, a scalar per confidence key, or confusion counts.
SCALAR, CONFIDENCE, CONFUSION = "SCALAR", "CONFIDENCE", "CONFUSION"


@dataclass(frozen=True)
class MetricBlock:
    """The entries of one metric name from one source.

    Attributes:
        series_starts: int64 (S + 1,) entry offsets of each confidence key (S = 1 unless
            ``kind`` is CONFIDENCE).
        item: int64 (N,) index into :attr:`MetricColumns.item_ids`.
        feature: int64 (N,) feature code (-1 on row entries).
        level: int64 (N,) ROW, FEATURE or LEAF.
        pair: int64 (N,) (feature, nested feature) code of uploaded nested-feature entries, else -1.
        values: float64 (N, C), C = 4 (tp, fp, tn, fn) for CONFUSION, else 1.
    """

    name: str
    source: str
    kind: str
    aggregation: Aggregation
    confidences: tuple[float, ...]
    series_starts: IntArray
    item: IntArray
    feature: IntArray
    level: IntArray
    pair: IntArray
    values: FloatArray


@dataclass(frozen=True)
class MetricColumns:
    versions: tuple[int, int]
    item_ids: IntArray  # int64 (I,) sorted item row ids that hold any entry
    features: tuple[str, ...]
    pairs: tuple[tuple[int, str], ...]  # (feature code, nested feature name)
    blocks: tuple[MetricBlock, ...]  # by (name, source)

    def item_mask(self, selected_ids: IntArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """bool (I,): which cached items are among ``selected_ids``."""
        return np.isin(self.item_ids, selected_ids, assume_unique=False)


class _Codes:
    def __init__(self) -> None:
        self.index: dict[Any, int] = {}

    def code(self, key: Any) -> int:
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.index)
        return found

    def names(self) -> tuple[Any, ...]:
        return tuple(self.index)


@dataclass
class _Entries:
    """Flat entries while loading, before they are split into blocks."""

    block: list[int]
    item: list[int]
    feature: list[int]
    level: list[int]
    pair: list[int]
    confidence: list[float]
    values: tuple[list[float], list[float], list[float], list[float]]  # columns; scalars use [0]

    @classmethod
    def empty(cls) -> _Entries:
        return cls([], [], [], [], [], [], ([], [], [], []))

    def add(self, block: int, item: int, feature: int, level: int, pair: int, confidence: float, values: tuple[float, ...]) -> None:  # fmt: skip
        self.block.append(block)
        self.item.append(item)
        self.feature.append(feature)
        self.level.append(level)
        self.pair.append(pair)
        self.confidence.append(confidence)
        padded = (*values, 0.0, 0.0, 0.0)
        for column, value in zip(self.values, padded, strict=False):
            column.append(value)


def _kind_of(kind: str, value: float | None) -> str:
    if kind == CONFUSION:
        return CONFUSION
    return SCALAR if value is not None else CONFIDENCE


def build_columns(
    versions: tuple[int, int],
    metrics: store.MetricColumns,
    predictions: list[tuple[int, int, str, Any]],
) -> MetricColumns:
    """Codes the stored rows and sorts them into blocks (runs off the event loop)."""
    features, pairs, blocks = _Codes(), _Codes(), _Codes()
    shapes: dict[int, tuple[str, str, str, Aggregation]] = {}
    entries = _Entries.empty()
    for i in range(len(metrics.item_id)):
        kind = _kind_of(metrics.kind[i], metrics.value[i])
        aggregation = Aggregation(metrics.aggregation[i])
        key = (metrics.name[i], RUN, kind, aggregation)
        block = blocks.code(key)
        shapes[block] = key
        fname, sname = metrics.feature_name[i], metrics.subclass_name[i]
        feature = features.code(fname) if fname else -1
        level = ROW if not fname else (FEATURE if not sname else LEAF)
        pair = pairs.code((feature, sname)) if level == LEAF else -1
        item = metrics.item_id[i]
        if kind == SCALAR:
            entries.add(block, item, feature, level, pair, 0.0, (float(metrics.value[i] or 0.0),))
        elif kind == CONFUSION:
            counts = tuple(float(c or 0) for c in metrics.counts[i])
            entries.add(block, item, feature, level, pair, 0.0, counts)
        else:
            for confidence, value in metrics.by_confidence[i] or []:
                entries.add(block, item, feature, level, pair, float(confidence), (float(value),))
    for _pid, item, label, custom in predictions:
        if not isinstance(custom, list):
            continue
        feature = features.code(label)
        for metric in custom:
            value = metric.get("value") if isinstance(metric, dict) else None
            if not isinstance(value, int | float) or not np.isfinite(value):
                continue
            key = (str(metric.get("name")), PREDICTION, SCALAR, Aggregation.ARITHMETIC_MEAN)
            block = blocks.code(key)
            shapes[block] = key
            entries.add(block, item, feature, LEAF, -1, 0.0, (float(value),))
    return _sorted_columns(versions, entries, features.names(), pairs.names(), shapes)


def _sorted_columns(
    versions: tuple[int, int],
    entries: _Entries,
    features: tuple[str, ...],
    pairs: tuple[tuple[int, str], ...],
    shapes: dict[int, tuple[str, str, str, Aggregation]],
) -> MetricColumns:
    item_raw = np.asarray(entries.item, dtype=np.int64)
    item_ids = np.unique(item_raw)
    item = np.searchsorted(item_ids, item_raw).astype(np.int64)
    block = np.asarray(entries.block, dtype=np.int64)
    feature = np.asarray(entries.feature, dtype=np.int64)
    level = np.asarray(entries.level, dtype=np.int64)
    pair = np.asarray(entries.pair, dtype=np.int64)
    confidence = np.asarray(entries.confidence, dtype=np.float64)
    order = np.lexsort((pair, level, feature, item, confidence, block))
    block, item, feature, level, pair = (a[order] for a in (block, item, feature, level, pair))
    confidence = confidence[order]
    columns = np.stack([np.asarray(c, dtype=np.float64) for c in entries.values], axis=1)
    columns = columns.reshape(-1, 4)[order]
    out: list[MetricBlock] = []
    bounds = np.searchsorted(block, np.arange(len(shapes) + 1))
    for code in sorted(shapes, key=lambda c: (shapes[c][0], shapes[c][1] != RUN, shapes[c][2])):
        name, source, kind, aggregation = shapes[code]
        lo, hi = int(bounds[code]), int(bounds[code + 1])
        width = 4 if kind == CONFUSION else 1
        values = np.ascontiguousarray(columns[lo:hi, :width])
        keys, key_starts = np.unique(confidence[lo:hi], return_index=True)
        starts = np.append(key_starts, hi - lo).astype(np.int64)
        out.append(
            MetricBlock(
                name=name,
                source=source,
                kind=kind,
                aggregation=aggregation,
                confidences=tuple(float(k) for k in keys) if kind == CONFIDENCE else (),
                series_starts=starts,
                item=item[lo:hi],
                feature=feature[lo:hi],
                level=level[lo:hi],
                pair=pair[lo:hi],
                values=values,
            )
        )
    return MetricColumns(versions, item_ids, features, pairs, tuple(out))


class CustomMetricCache:
    """Column snapshots of the most recently queried runs (least recently used dropped)."""

    def __init__(self, max_runs: int = 4) -> None:
        self.max_runs = max_runs
        self._runs: OrderedDict[int, MetricColumns] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = {}
        self.loads = 0

    async def columns(
        self, session: AsyncSession, *, model_run_id: int, versions: tuple[int, int]
    ) -> MetricColumns:
        cached = self._runs.get(model_run_id)
        if cached is not None and cached.versions == versions:
            self._runs.move_to_end(model_run_id)
            return cached
        lock = self._locks.setdefault(model_run_id, asyncio.Lock())
        async with lock:
            cached = self._runs.get(model_run_id)
            if cached is None or cached.versions != versions:
                # Versions were read before the rows: a newer load is at worst reloaded again.
                metrics = await store.select_metric_columns(
                    session=session, model_run_id=model_run_id
                )
                predictions = await store.select_prediction_metrics(
                    session=session, model_run_id=model_run_id
                )
                cached = await asyncio.to_thread(build_columns, versions, metrics, predictions)
                self.loads += 1
                self._runs[model_run_id] = cached
            self._runs.move_to_end(model_run_id)
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)
            return cached


_CACHES: WeakKeyDictionary[AsyncEngine, CustomMetricCache] = WeakKeyDictionary()


def cache_for(engine: AsyncEngine) -> CustomMetricCache:
    """The process's cache for one database (an engine lives as long as its Runtime)."""
    cache = _CACHES.get(engine)
    if cache is None:
        cache = _CACHES[engine] = CustomMetricCache()
    return cache
