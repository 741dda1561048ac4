"""A run's custom metrics as numpy columns, cached per runtime and keyed by version counters.

The roll-up below the slice level does not depend on the slice: a feature's value on a data
row, and a data row's value, come from that row's entries alone. So the cache rolls every
metric up once, at load time, and keeps three tables per metric - data-row values, (row,
feature) values and nested-feature values - and a slice query is a boolean mask over them and
``np.bincount`` reductions, with no sort and no Python loop per row.

Uploaded metrics bump ``model_run.custom_metrics_version`` and prediction changes bump
``data_version``; every query reads both (one small SELECT) and reloads on a mismatch, so API
replicas never serve stale values.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.evaluation.aggregation import (
    FEATURE,
    LEAF,
    ROW,
    Aggregation,
    BoolArray,
    FloatArray,
    IntArray,
    rollup,
)
from sliceboard.storage import custom_metrics as store

#: Where a metric's values come from: uploadCustomMetrics, or PredictionInput.customMetrics.
RUN, PREDICTION = "RUN", "PREDICTION"
#: Metric kinds: a plain scalar, a scalar per confidence key, or confusion counts.
SCALAR, CONFIDENCE, CONFUSION = "SCALAR", "CONFIDENCE", "CONFUSION"
#: The pair code of a prediction: a leaf under its label, with no nested-feature name.
PREDICTION_LEAF = -2


@dataclass(frozen=True)
class MetricBlock:
    """One metric name from one source, rolled up; ``*_series`` index ``confidences``.

    Attributes:
        row_item, row_series: int64 (R,); row_value: float64 (R, C) per data row.
        feature_item, feature_series, feature_code: int64 (F,); feature_value: float64 (F, C).
        leaf_item, leaf_series, leaf_pair: int64 (L,); leaf_value: float64 (L, C) per uploaded
            nested-feature entry (predictions have none).
        C = 4 (tp, fp, tn, fn) for CONFUSION, else 1; S = len(confidences) or 1.
    """

    name: str
    source: str
    kind: str
    aggregation: Aggregation
    confidences: tuple[float, ...]
    row_item: IntArray
    row_series: IntArray
    row_value: FloatArray
    feature_item: IntArray
    feature_series: IntArray
    feature_code: IntArray
    feature_value: FloatArray
    leaf_item: IntArray
    leaf_series: IntArray
    leaf_pair: IntArray
    leaf_value: FloatArray

    @property
    def n_series(self) -> int:
        return max(len(self.confidences), 1)


@dataclass(frozen=True)
class MetricColumns:
    versions: tuple[int, int]
    item_ids: IntArray  # int64 (I,) sorted item row ids that hold any entry
    features: tuple[str, ...]
    pairs: tuple[tuple[int, str], ...]  # (feature code, nested feature name)
    blocks: tuple[MetricBlock, ...]  # by (name, source)

    def item_mask(self, selected_ids: IntArray) -> BoolArray:
        """bool (I,): which cached items are among ``selected_ids``."""
        return np.isin(self.item_ids, selected_ids)


class _Codes:
    """Dense codes for keys in first-seen order; ``""`` (no feature) is -1."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {"": -1}

    def code(self, key: Any) -> int:
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.index) - 1
        return found

    def codes(self, keys: Sequence[Any]) -> list[int]:
        index = self.index
        return [index[k] if k in index else self.code(k) for k in keys]

    def names(self) -> tuple[Any, ...]:
        return tuple(k for k in self.index if k != "")


@dataclass
class _Entries:
    """Flat entries of every metric while loading, one per (row, confidence key)."""

    block: list[int]
    item: list[int]
    feature: list[int]
    subclass: list[int]  # pair code; -1 none (row or feature entry), PREDICTION_LEAF
    confidence: list[float]
    values: list[tuple[float, ...]]  # width 1 or 4


BlockKey = tuple[str, str, str, Aggregation]  # name, source, kind, aggregation


def _code_scalars(
    scalars: store.ScalarColumns, features: _Codes, pairs: _Codes, blocks: _Codes
) -> tuple[IntArray, IntArray, IntArray]:
    """Block, feature and pair codes of the plain scalars, int64 (N,) each.

    Strings are coded one column at a time (a dict look-up per value), and combinations in
    numpy: hashing a tuple per row would dominate the load of a million values.
    """
    names, aggregations, subclasses = _Codes(), _Codes(), _Codes()
    name = np.asarray(names.codes(scalars.name), dtype=np.int64)
    aggregation = np.asarray(aggregations.codes(scalars.aggregation), dtype=np.int64)
    combined, block = np.unique(name * 8 + aggregation, return_inverse=True)
    name_list, aggregation_list = names.names(), aggregations.names()
    for key in combined.tolist():
        blocks.code((name_list[key // 8], RUN, SCALAR, Aggregation(aggregation_list[key % 8])))
    feature = np.asarray(features.codes(scalars.feature_name), dtype=np.int64)
    subclass = np.asarray(subclasses.codes(scalars.subclass_name), dtype=np.int64)
    nested = subclass >= 0
    span = max(len(subclasses.index), 1)
    pair_keys, pair_of_nested = np.unique(
        feature[nested] * span + subclass[nested], return_inverse=True
    )
    subclass_list = subclasses.names()
    for key in pair_keys.tolist():
        pairs.code((key // span, subclass_list[key % span]))
    pair = np.full(feature.shape[0], -1, dtype=np.int64)
    pair[nested] = pair_of_nested
    return block.astype(np.int64), feature, pair


def build_columns(
    versions: tuple[int, int],
    scalars: store.ScalarColumns,
    others: list[store.OtherMetricRow],
    predictions: list[tuple[int, int, str, Any]],
) -> MetricColumns:
    """Codes, sorts and rolls up the stored rows (CPU work: runs off the event loop)."""
    features, pairs, blocks = _Codes(), _Codes(), _Codes()
    block, feature, pair = _code_scalars(scalars, features, pairs, blocks)
    extra = _Entries([], [], [], [], [], [])
    for row in others:
        kind = CONFUSION if row.kind == CONFUSION else CONFIDENCE
        b = blocks.code((row.name, RUN, kind, Aggregation(row.aggregation)))
        f = features.code(row.feature_name)
        p = pairs.code((f, row.subclass_name) if row.subclass_name else "")
        points = (
            [(0.0, tuple(map(float, row.counts)))]
            if kind == CONFUSION
            else [(float(c), (float(v),)) for c, v in row.by_confidence or []]
        )
        for confidence, values in points:
            extra.block.append(b)
            extra.item.append(row.item_id)
            extra.feature.append(f)
            extra.subclass.append(p)
            extra.confidence.append(confidence)
            extra.values.append(values)
    for _pid, item, label, custom in predictions:
        f = features.code(label)
        for metric in custom if isinstance(custom, list) else []:
            value = metric.get("value") if isinstance(metric, dict) else None
            if isinstance(value, int | float) and np.isfinite(value):
                key = (str(metric.get("name")), PREDICTION, SCALAR, Aggregation.ARITHMETIC_MEAN)
                extra.block.append(blocks.code(key))
                extra.item.append(item)
                extra.feature.append(f)
                extra.subclass.append(PREDICTION_LEAF)
                extra.confidence.append(0.0)
                extra.values.append((float(value),))
    n_scalar = block.shape[0]
    all_items = np.asarray(scalars.item_id + extra.item, dtype=np.int64)
    item_ids = np.unique(all_items)
    columns = _Arrays(
        block=np.concatenate([block, np.asarray(extra.block, dtype=np.int64)]),
        item=np.searchsorted(item_ids, all_items).astype(np.int64),
        feature=np.concatenate([feature, np.asarray(extra.feature, dtype=np.int64)]),
        pair=np.concatenate([pair, np.asarray(extra.subclass, dtype=np.int64)]),
        confidence=np.concatenate(
            [np.zeros(n_scalar), np.asarray(extra.confidence, dtype=np.float64)]
        ),
        scalar_values=np.asarray(scalars.value, dtype=np.float64),
        extra_values=extra.values,
    )
    shapes: dict[int, BlockKey] = {code: key for key, code in blocks.index.items() if key != ""}
    return MetricColumns(
        versions=versions,
        item_ids=item_ids,
        features=features.names(),
        pairs=pairs.names(),
        blocks=tuple(_blocks(columns, shapes)),
    )


@dataclass(frozen=True)
class _Arrays:
    block: IntArray
    item: IntArray
    feature: IntArray
    pair: IntArray
    confidence: FloatArray
    scalar_values: FloatArray
    extra_values: list[tuple[float, ...]]

    def values(self, rows: IntArray, width: int) -> FloatArray:
        """float64 (len(rows), width) for entry rows of one block (all scalar or all extra)."""
        n_scalar = self.scalar_values.shape[0]
        if rows.shape[0] and rows[0] < n_scalar:
            return self.scalar_values[rows].reshape(-1, 1)
        out = np.asarray([self.extra_values[r - n_scalar] for r in rows], dtype=np.float64)
        return out.reshape(-1, width)


def _blocks(a: _Arrays, shapes: dict[int, BlockKey]) -> list[MetricBlock]:
    level = np.where(a.feature < 0, ROW, np.where(a.pair == -1, FEATURE, LEAF)).astype(np.int64)
    order = np.lexsort((level, a.feature, a.item, a.confidence, a.block))
    bounds = np.searchsorted(a.block[order], np.arange(len(shapes) + 1))
    out = []
    for code in sorted(shapes, key=lambda c: (shapes[c][0], shapes[c][1] != RUN)):
        name, source, kind, aggregation = shapes[code]
        rows = order[bounds[code] : bounds[code + 1]]
        out.append(_rolled_block(a, rows, level[rows], name, source, kind, aggregation))
    return out


def _rolled_block(
    a: _Arrays,
    rows: IntArray,
    level: IntArray,
    name: str,
    source: str,
    kind: str,
    aggregation: Aggregation,
) -> MetricBlock:
    values = a.values(rows, 4 if kind == CONFUSION else 1)
    item, feature, pair = a.item[rows], a.feature[rows], a.pair[rows]
    keys, series = np.unique(a.confidence[rows], return_inverse=True)
    starts = np.searchsorted(series, np.arange(keys.shape[0] + 1))
    parts: list[tuple[IntArray, ...]] = []
    fparts: list[tuple[IntArray, ...]] = []
    rvals: list[FloatArray] = []
    fvals: list[FloatArray] = []
    for s in range(keys.shape[0]):
        lo, hi = int(starts[s]), int(starts[s + 1])
        roll = rollup(item[lo:hi], feature[lo:hi], level[lo:hi], values[lo:hi], aggregation)
        parts.append((roll.row_item, np.full(roll.row_item.shape[0], s, dtype=np.int64)))
        rvals.append(roll.row_value)
        fparts.append(
            (
                roll.feature_item,
                np.full(roll.feature_item.shape[0], s, dtype=np.int64),
                roll.feature_code,
            )
        )
        fvals.append(roll.feature_value)
    leaf = pair >= 0
    width = values.shape[1]
    return MetricBlock(
        name=name,
        source=source,
        kind=kind,
        aggregation=aggregation,
        confidences=tuple(float(k) for k in keys) if kind == CONFIDENCE else (),
        row_item=_cat([p[0] for p in parts]),
        row_series=_cat([p[1] for p in parts]),
        row_value=np.concatenate(rvals) if rvals else np.empty((0, width)),
        feature_item=_cat([p[0] for p in fparts]),
        feature_series=_cat([p[1] for p in fparts]),
        feature_code=_cat([p[2] for p in fparts]),
        feature_value=np.concatenate(fvals) if fvals else np.empty((0, width)),
        leaf_item=item[leaf],
        leaf_series=series.astype(np.int64)[leaf],
        leaf_pair=pair[leaf],
        leaf_value=values[leaf],
    )


def _cat(arrays: list[IntArray]) -> IntArray:
    return np.concatenate(arrays).astype(np.int64) if arrays else np.empty(0, dtype=np.int64)


class CustomMetricCache:
    """Rolled-up columns of the most recently queried runs (least recently used dropped)."""

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
                scalars = await store.select_scalar_columns(
                    session=session, model_run_id=model_run_id
                )
                others = await store.select_other_metric_rows(
                    session=session, model_run_id=model_run_id
                )
                predictions = await store.select_prediction_metrics(
                    session=session, model_run_id=model_run_id
                )
                cached = await asyncio.to_thread(
                    build_columns, versions, scalars, others, predictions
                )
                self.loads += 1
                self._runs[model_run_id] = cached
            self._runs.move_to_end(model_run_id)
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)
            return cached
