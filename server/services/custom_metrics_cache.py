"""A run's custom metrics as numpy columns, cached per runtime and keyed by version counters.

The roll-up below the slice level does not depend on the slice: a feature's value on a data
row, and a data row's value, come from that row's entries alone. So the cache rolls every
metric up once, at load time, and keeps three tables per metric - data-row values, (row,
feature) values and nested-feature values - and a slice query is a boolean mask over them and
``np.bincount`` reductions, with no sort and no Python loop per row.

Uploaded metrics bump ``model_run.custom_metrics_version`` and prediction changes bump
``data_version``; every query reads both (one small SELECT) and refreshes on a mismatch, so API
replicas never serve stale values.

The refresh after an upload is incremental. Every uploaded row carries the version of the
upload that last wrote it (``revision``), so a cache at version V reads only ``revision > V``,
replaces its entries with the same (data row, feature, nested feature, name) key - an upsert
keeps the key, and a key is never deleted while its run exists - and rolls up again only the
metrics those rows belong to. A ``data_version`` change reloads only the per-prediction
metrics. Replacing by key makes a refresh idempotent: a row read twice (written between the
version SELECT and the row SELECT) is applied twice to the same effect. A run that is not the
one cached (its id reused, or its version lower) is loaded whole.

Entries of one metric are rolled up in an order fixed by their content (confidence, data row,
feature name, level, nested-feature name; predictions by id), never by load history, so an
incremental refresh gives the same floating-point sums, bit for bit, as a full load.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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

    def names(self) -> tuple[Any, ...]:
        return tuple(k for k in self.index if k != "")


BlockKey = tuple[str, str, str, Aggregation]  # name, source, kind, aggregation


def _i64(values: Sequence[int]) -> IntArray:
    return np.asarray(values, dtype=np.int64)


@dataclass(frozen=True)
class _Part:
    """One metric's entries, one per (stored row, confidence key): in rolled order once
    rolled up, with a refresh's new entries appended until the next roll-up sorts them in.

    ``slot`` codes the stored row's (feature, nested feature, name), so (item, slot) is the
    row's key; -1 for per-prediction entries, which are never replaced one by one.
    """

    slot: IntArray
    item: IntArray  # item row ids
    feature: IntArray  # feature code, -1 none
    pair: IntArray  # pair code, -1 none, PREDICTION_LEAF
    confidence: FloatArray
    values: FloatArray  # (N, width)

    @property
    def size(self) -> int:
        return int(self.item.shape[0])

    def take(self, rows: IntArray | BoolArray) -> _Part:
        return _Part(
            self.slot[rows],
            self.item[rows],
            self.feature[rows],
            self.pair[rows],
            self.confidence[rows],
            self.values[rows],
        )

    @staticmethod
    def concat(parts: Sequence[_Part]) -> _Part:
        if len(parts) == 1:
            return parts[0]
        return _Part(
            *(
                np.concatenate([getattr(p, name) for p in parts])
                for name in ("slot", "item", "feature", "pair", "confidence", "values")
            )
        )


class _PartBuilder:
    """Entries of several metrics gathered row by row (rows with more than one number)."""

    def __init__(self) -> None:
        self.lists: dict[BlockKey, tuple[list[int], ...]] = {}
        self.values: dict[BlockKey, list[tuple[float, ...]]] = {}
        self.confidences: dict[BlockKey, list[float]] = {}

    def add(
        self,
        key: BlockKey,
        slot: int,
        item: int,
        feature: int,
        pair: int,
        confidence: float,
        values: tuple[float, ...],
    ) -> None:
        lists = self.lists.get(key)
        if lists is None:
            lists = self.lists[key] = ([], [], [], [])
            self.values[key], self.confidences[key] = [], []
        lists[0].append(slot)
        lists[1].append(item)
        lists[2].append(feature)
        lists[3].append(pair)
        self.confidences[key].append(confidence)
        self.values[key].append(values)

    def parts(self) -> dict[BlockKey, _Part]:
        out = {}
        for key, (slot, item, feature, pair) in self.lists.items():
            width = 4 if key[2] == CONFUSION else 1
            out[key] = _Part(
                _i64(slot),
                _i64(item),
                _i64(feature),
                _i64(pair),
                np.asarray(self.confidences[key], dtype=np.float64),
                np.asarray(self.values[key], dtype=np.float64).reshape(-1, width),
            )
        return out


@dataclass
class _Vocabulary:
    """Codes that stay valid across refreshes: new names get new codes, old ones keep theirs."""

    features: _Codes = field(default_factory=_Codes)
    pairs: _Codes = field(default_factory=_Codes)  # (feature code, nested feature name)
    slots: _Codes = field(default_factory=_Codes)  # (feature code, nested feature name, name)

    def ranks(self) -> tuple[IntArray, IntArray]:
        """Sort ranks by name of the feature codes (index code + 1) and the pair codes (index
        code + 2), so entries are ordered by names, whatever order the codes were handed out."""
        features = self.features.names()
        feature_rank = np.full(len(features) + 1, -1, dtype=np.int64)
        by_name = sorted(range(len(features)), key=lambda c: features[c])
        feature_rank[np.asarray(by_name, dtype=np.int64) + 1] = np.arange(len(features))
        pairs = self.pairs.names()
        pair_rank = np.full(len(pairs) + 2, -1, dtype=np.int64)
        by_pair = sorted(range(len(pairs)), key=lambda c: (features[pairs[c][0]], pairs[c][1]))
        pair_rank[np.asarray(by_pair, dtype=np.int64) + 2] = np.arange(len(pairs))
        return feature_rank, pair_rank


@dataclass(frozen=True)
class _Delta:
    """Rows written since the cached version: their entries by metric, and their keys."""

    parts: dict[BlockKey, _Part]
    names: frozenset[str]
    key_item: IntArray
    key_slot: IntArray


def _scalar_parts(scalars: store.ScalarColumns, vocabulary: _Vocabulary) -> dict[BlockKey, _Part]:
    """The plain scalars by metric: codes per key (a few), then numpy per value."""
    if scalars.size == 0:
        return {}
    n_keys = len(scalars.keys)
    feature_of, pair_of, slot_of, block_of = (np.empty(n_keys, dtype=np.int64) for _ in range(4))
    block_index: dict[BlockKey, int] = {}
    for k, (feature_name, subclass_name, name, aggregation) in enumerate(scalars.keys):
        f = vocabulary.features.code(feature_name)
        feature_of[k] = f
        pair_of[k] = vocabulary.pairs.code((f, subclass_name)) if subclass_name else -1
        slot_of[k] = vocabulary.slots.code((f, subclass_name, name))
        key = (name, RUN, SCALAR, Aggregation(aggregation))
        block_of[k] = block_index.setdefault(key, len(block_index))
    block = block_of[scalars.group]
    order = np.argsort(block, kind="stable")
    bounds = np.searchsorted(block[order], np.arange(len(block_index) + 1))
    out: dict[BlockKey, _Part] = {}
    for key, b in block_index.items():
        rows = order[bounds[b] : bounds[b + 1]]
        group = scalars.group[rows]
        out[key] = _Part(
            slot_of[group],
            scalars.item_id[rows],
            feature_of[group],
            pair_of[group],
            np.zeros(rows.shape[0], dtype=np.float64),
            scalars.value[rows].reshape(-1, 1),
        )
    return out


def _delta(
    scalars: store.ScalarColumns, others: list[store.OtherMetricRow], vocabulary: _Vocabulary
) -> _Delta:
    """The uploaded rows (all of a run's, or those written since a version) as entries."""
    parts = _scalar_parts(scalars, vocabulary)
    builder = _PartBuilder()
    features, pairs, slots = vocabulary.features, vocabulary.pairs, vocabulary.slots
    other_items: list[int] = []
    other_slots: list[int] = []
    for row in others:
        kind = CONFUSION if row.kind == CONFUSION else CONFIDENCE
        key = (row.name, RUN, kind, Aggregation(row.aggregation))
        f = features.code(row.feature_name)
        p = pairs.code((f, row.subclass_name) if row.subclass_name else "")
        slot = slots.code((f, row.subclass_name, row.name))
        other_items.append(row.item_id)
        other_slots.append(slot)
        if kind == CONFUSION:
            builder.add(key, slot, row.item_id, f, p, 0.0, tuple(map(float, row.counts)))
        else:
            for c, v in row.by_confidence or []:
                builder.add(key, slot, row.item_id, f, p, float(c), (float(v),))
    for key, part in builder.parts().items():
        parts[key] = _Part.concat([parts[key], part]) if key in parts else part
    return _Delta(
        parts=parts,
        names=frozenset(key[0] for key in parts) | frozenset(row.name for row in others),
        key_item=np.concatenate([p.item for p in parts.values()] + [_i64(other_items)]),
        key_slot=np.concatenate([p.slot for p in parts.values()] + [_i64(other_slots)]),
    )


def _prediction_parts(
    predictions: list[tuple[int, int, str, Any]], vocabulary: _Vocabulary
) -> dict[BlockKey, _Part]:
    """Per-prediction metrics by name, in prediction id order (leaves under their label)."""
    builder = _PartBuilder()
    for _pid, item, label, custom in predictions:
        f = vocabulary.features.code(label)
        for metric in custom if isinstance(custom, list) else []:
            value = metric.get("value") if isinstance(metric, dict) else None
            if isinstance(value, int | float) and np.isfinite(value):
                key = (str(metric.get("name")), PREDICTION, SCALAR, Aggregation.ARITHMETIC_MEAN)
                builder.add(key, -1, item, f, PREDICTION_LEAF, 0.0, (float(value),))
    return builder.parts()


def _replaced(part: _Part, key_item: IntArray, key_slot: IntArray) -> BoolArray:
    """bool (N,): the entries whose stored row has one of the keys (item, slot)."""
    items = np.unique(key_item)
    hit = np.isin(part.item, items)
    if not hit.any():
        return hit
    rows = np.flatnonzero(hit)
    # Items re-coded densely among the keys' own, so the combined key cannot overflow.
    span = int(max(part.slot[rows].max(), key_slot.max())) + 1
    stored = np.searchsorted(items, part.item[rows]) * span + part.slot[rows]
    wanted = np.searchsorted(items, key_item) * span + key_slot
    hit[rows] = np.isin(stored, wanted)
    return hit


#: Composite sort keys stay below this; beyond it the sort takes the keys one by one.
_KEY_LIMIT = 2**62


def _content_order(digits: list[tuple[IntArray, int]]) -> IntArray:
    """The stable order of rows by (digit 0, digit 1, ...), each digit in 0..radix-1.

    One composite int64 key and a stable sort (timsort: a part kept in this order plus a few
    appended rows sorts in near-linear time); ``np.lexsort`` when the key would overflow.
    """
    if math.prod(max(radix, 1) for _, radix in digits) < _KEY_LIMIT:
        composite = digits[0][0].copy()
        for digit, radix in digits[1:]:
            composite *= radix
            composite += digit
        return np.argsort(composite, kind="stable").astype(np.int64)
    return np.lexsort(tuple(digit for digit, _ in reversed(digits))).astype(np.int64)


def _roll(
    key: BlockKey, part: _Part, feature_rank: IntArray, pair_rank: IntArray, item_ids: IntArray
) -> tuple[MetricBlock, _Part]:
    """One metric's entries rolled up per confidence key, and the entries in the order used:
    (confidence, data row, feature name, level, nested-feature name), ties by position."""
    name, source, kind, aggregation = key
    if kind == CONFIDENCE:
        keys, inverse = np.unique(part.confidence, return_inverse=True)
        series = inverse.reshape(-1).astype(np.int64)
    else:  # a single key, 0.0
        keys = np.zeros(1 if part.size else 0)
        series = np.zeros(part.size, dtype=np.int64)
    level = np.where(part.feature < 0, ROW, np.where(part.pair == -1, FEATURE, LEAF))
    index = np.searchsorted(item_ids, part.item).astype(np.int64)
    order = _content_order(
        [
            (series, keys.shape[0]),
            (index, item_ids.shape[0]),
            (feature_rank[part.feature + 1] + 1, feature_rank.shape[0]),
            (level.astype(np.int64), 3),
            (pair_rank[part.pair + 2] + 1, pair_rank.shape[0]),
        ]
    )
    ordered = part.take(order)
    level = level[order].astype(np.int64)
    values, item, series = ordered.values, index[order], series[order]
    feature, pair = ordered.feature, ordered.pair
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
    block = MetricBlock(
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
        leaf_series=series[leaf],
        leaf_pair=pair[leaf],
        leaf_value=values[leaf],
    )
    return block, ordered


def _cat(arrays: list[IntArray]) -> IntArray:
    return np.concatenate(arrays).astype(np.int64) if arrays else np.empty(0, dtype=np.int64)


Uploaded = tuple[store.ScalarColumns, list[store.OtherMetricRow]]


@dataclass(frozen=True)
class _RunState:
    """What the cache holds for a run: its entries (to refresh from) and their roll-up."""

    identity: object
    vocabulary: _Vocabulary
    run_parts: dict[BlockKey, _Part]
    prediction_parts: dict[BlockKey, _Part]
    blocks: dict[BlockKey, MetricBlock]
    columns: MetricColumns

    def covers(self, identity: object, versions: tuple[int, int]) -> bool:
        return self.identity == identity and self.columns.versions == versions

    def refreshable_to(self, identity: object, versions: tuple[int, int]) -> bool:
        """The same run, at or before ``versions`` (counters only move up)."""
        held = self.columns.versions
        return self.identity == identity and held[0] <= versions[0] and held[1] <= versions[1]


def refresh(
    previous: _RunState | None,
    identity: object,
    versions: tuple[int, int],
    uploaded: Uploaded | None,
    predictions: list[tuple[int, int, str, Any]] | None,
) -> _RunState:
    """The state at ``versions`` (CPU work: runs off the event loop).

    ``previous`` None: ``uploaded`` and ``predictions`` are all the run's rows. Otherwise
    ``uploaded`` holds the rows written after ``previous``'s version (None: none were) and
    ``predictions`` all per-prediction metrics when ``data_version`` moved (None: it did not).
    """
    vocabulary = previous.vocabulary if previous is not None else _Vocabulary()
    run_parts = dict(previous.run_parts) if previous is not None else {}
    prediction_parts = dict(previous.prediction_parts) if previous is not None else {}
    touched: set[BlockKey] = set()
    new_items: list[IntArray] = []
    if uploaded is not None:
        delta = _delta(uploaded[0], uploaded[1], vocabulary)
        for key in [k for k in run_parts if k[0] in delta.names]:
            drop = _replaced(run_parts[key], delta.key_item, delta.key_slot)
            if drop.any():
                touched.add(key)
                kept = run_parts[key].take(~drop)
                if kept.size:
                    run_parts[key] = kept
                else:
                    del run_parts[key]
        for key, part in delta.parts.items():
            touched.add(key)
            run_parts[key] = _Part.concat([run_parts[key], part]) if key in run_parts else part
        new_items.append(delta.key_item)
    if predictions is not None:
        fresh = _prediction_parts(predictions, vocabulary)
        touched |= set(prediction_parts) | set(fresh)
        prediction_parts = fresh
    parts = {**run_parts, **prediction_parts}
    if previous is None or predictions is not None:
        # Predictions can disappear with their items: count the items again.
        item_ids = np.unique(_cat([p.item for p in parts.values()]))
    else:
        held = previous.columns.item_ids
        added = _cat(new_items)
        added = np.unique(added[~np.isin(added, held)])
        item_ids = held if added.shape[0] == 0 else np.union1d(held, added).astype(np.int64)
    remap: IntArray | None = None
    if previous is not None and item_ids is not previous.columns.item_ids:
        remap = np.searchsorted(item_ids, previous.columns.item_ids).astype(np.int64)
    feature_rank, pair_rank = vocabulary.ranks()
    blocks: dict[BlockKey, MetricBlock] = {}
    for key, part in parts.items():
        old = previous.blocks.get(key) if previous is not None else None
        if old is None or key in touched:
            blocks[key], ordered = _roll(key, part, feature_rank, pair_rank, item_ids)
            # Kept in rolled order, so the next refresh sorts nearly sorted rows.
            (run_parts if key[1] == RUN else prediction_parts)[key] = ordered
        elif remap is None:
            blocks[key] = old
        else:
            blocks[key] = replace(
                old,
                row_item=remap[old.row_item],
                feature_item=remap[old.feature_item],
                leaf_item=remap[old.leaf_item],
            )
    listed = sorted(blocks, key=lambda k: (k[0], k[1] != RUN))
    columns = MetricColumns(
        versions=versions,
        item_ids=item_ids,
        features=vocabulary.features.names(),
        pairs=vocabulary.pairs.names(),
        blocks=tuple(blocks[k] for k in listed),
    )
    return _RunState(identity, vocabulary, run_parts, prediction_parts, blocks, columns)


class CustomMetricCache:
    """Rolled-up columns of the most recently queried runs (least recently used dropped).

    ``loads`` counts every refresh, ``full_loads`` those that read the whole run.
    """

    def __init__(self, max_runs: int = 4) -> None:
        self.max_runs = max_runs
        self._runs: OrderedDict[int, _RunState] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = {}
        self.loads = 0
        self.full_loads = 0

    async def columns(
        self,
        session: AsyncSession,
        *,
        model_run_id: int,
        versions: tuple[int, int],
        identity: object = None,
    ) -> MetricColumns:
        """``versions``: (custom_metrics_version, data_version), read before any row;
        ``identity``: what tells this run from an earlier one with the same id."""
        cached = self._runs.get(model_run_id)
        if cached is not None and cached.covers(identity, versions):
            self._runs.move_to_end(model_run_id)
            return cached.columns
        lock = self._locks.setdefault(model_run_id, asyncio.Lock())
        async with lock:
            cached = self._runs.get(model_run_id)
            if cached is None or not cached.covers(identity, versions):
                cached = await self._refresh(session, model_run_id, versions, identity, cached)
                self._runs[model_run_id] = cached
            self._runs.move_to_end(model_run_id)
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)
            return cached.columns

    async def _refresh(
        self,
        session: AsyncSession,
        model_run_id: int,
        versions: tuple[int, int],
        identity: object,
        cached: _RunState | None,
    ) -> _RunState:
        previous = cached if cached and cached.refreshable_to(identity, versions) else None
        held = previous.columns.versions if previous is not None else None
        uploaded: Uploaded | None = None
        if held is None or held[0] != versions[0]:
            since = None if held is None else held[0]
            uploaded = (
                await store.select_scalar_columns(
                    session=session, model_run_id=model_run_id, since_revision=since
                ),
                await store.select_other_metric_rows(
                    session=session, model_run_id=model_run_id, since_revision=since
                ),
            )
        predictions = None
        if held is None or held[1] != versions[1]:
            predictions = await store.select_prediction_metrics(
                session=session, model_run_id=model_run_id
            )
        state = await asyncio.to_thread(
            refresh, previous, identity, versions, uploaded, predictions
        )
        self.loads += 1
        self.full_loads += previous is None
        return state
