"""Custom metrics (Labelbox's ScalarMetric / ConfusionMatrixMetric): upload and slice aggregates.

Upload (``uploadCustomMetrics``): a batch is validated whole (see ``custom_metrics_input`` for
the value rules), then upserted on (run, data row, feature, nested feature, name): re-uploading
replaces, an identical row counts as ignored. One metric name keeps one shape - kind and
aggregation - across the run: an upload that changes it must replace every stored row of it.

Query (``ModelRun.customMetrics``): per metric name, the aggregate over the data rows of a
slice. A feature's value on a data row is its own feature-level value when uploaded, else the
aggregate of its nested features; a data row's value is its own row-level value when uploaded,
else the aggregate of its features; the slice aggregates its data rows. Every step uses the
metric's aggregation; confusion counts are summed and precision, recall and F1 come from the
sums. A valuesByConfidence metric aggregates per confidence key (``value`` is null). ``count``
is the number of data rows with a value (``byFeature``: rows holding that feature).

Per-prediction metrics (PredictionInput.customMetrics) appear in the same list with
``source = PREDICTION`` (uploaded ones: ``RUN``), aggregated with ARITHMETIC_MEAN along
prediction -> feature (its label) -> data row -> slice; they have no nested features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue, NotFound
from sliceboard.evaluation.aggregation import (
    Aggregation,
    BoolArray,
    FloatArray,
    IntArray,
    confusion_scores,
    keyed_reduce,
)
from sliceboard.services.custom_metrics_cache import (
    CONFIDENCE,
    CONFUSION,
    CustomMetricCache,
    MetricBlock,
    MetricColumns,
)
from sliceboard.services.custom_metrics_input import (
    MetricRow,
    check_batch_shapes,
    describe_shape,
    shape_path,
    validate_row,
)
from sliceboard.services.ids import require_id
from sliceboard.services.slices import resolve_item_ids
from sliceboard.services.visibility import sees_dataset
from sliceboard.storage import custom_metrics as store


@dataclass(frozen=True)
class UploadCounts:
    new: int
    updated: int
    ignored: int


async def upload_custom_metrics(
    session: AsyncSession, *, model_run_id: str, metrics: Sequence[Mapping[str, Any]], max_rows: int
) -> UploadCounts:
    """Validates and upserts one batch; raises NotFound / InvalidInput and then writes nothing."""
    run_id = require_id(model_run_id, "ModelRun", "modelRunId")
    run = await store.select_run_versions(session=session, model_run_id=run_id, lock=True)
    if run is None or not sees_dataset(run.dataset_id):
        raise NotFound("ModelRun", model_run_id, "modelRunId")
    if len(metrics) > max_rows:
        raise InvalidInput(
            [Issue("metrics", f"at most {max_rows} metrics per request, got {len(metrics)}")]
        )
    issues: list[Issue] = []
    rows = [row for i, raw in enumerate(metrics) if (row := validate_row(i, raw, issues))]
    leaders = check_batch_shapes(rows, issues)
    item_ids = await store.select_item_ids(
        session=session, dataset_id=run.dataset_id, reference_ids=[r.reference_id for r in rows]
    )
    for row in rows:
        if row.reference_id not in item_ids:
            issues.append(
                Issue(
                    f"metrics[{row.index}].referenceId",
                    f"no data row {row.reference_id!r} in the run's dataset",
                )
            )
    keyed = {
        (item_ids[r.reference_id], r.feature_name, r.subclass_name, r.name): r
        for r in rows
        if r.reference_id in item_ids
    }
    await _check_stored_shapes(session, run_id, leaders, set(keyed), issues)
    if issues:
        raise InvalidInput(issues)
    return await _write(session, run_id, keyed)


async def _check_stored_shapes(
    session: AsyncSession,
    run_id: int,
    leaders: dict[str, MetricRow],
    batch_keys: set[store.MetricKey],
    issues: list[Issue],
) -> None:
    """A name may change shape only if this batch replaces every row stored under the old one."""
    shapes = await store.select_stored_shapes(session=session, model_run_id=run_id, names=leaders)
    for shape in shapes:
        leader = leaders[shape.name]
        stored = (shape.kind, shape.aggregation, shape.by_confidence)
        if stored == leader.shape:
            continue
        kept = await store.select_keys_of_shape(session=session, model_run_id=run_id, shape=shape)
        kept -= batch_keys
        if kept:
            issues.append(
                Issue(
                    shape_path(leader),
                    f"metric {shape.name!r} is stored as {describe_shape(stored)} on {len(kept)} "
                    "other entries; one metric name has one aggregation and kind",
                )
            )


async def _write(
    session: AsyncSession, run_id: int, keyed: dict[store.MetricKey, MetricRow]
) -> UploadCounts:
    stored = await store.select_stored_values(
        session=session, model_run_id=run_id, keys=list(keyed)
    )
    changed: list[dict[str, Any]] = []
    new = updated = ignored = 0
    for key, row in keyed.items():
        fields = row.stored_fields()
        before = stored.get(key)
        if before is None:
            new += 1
        elif before == fields:
            ignored += 1
            continue
        else:
            updated += 1
        item_id, feature, subclass, name = key
        changed.append(
            {
                "item_id": item_id,
                "feature_name": feature,
                "subclass_name": subclass,
                "name": name,
                **fields,
            }
        )
    if changed:
        # The rows carry the bumped version, so caches can read just what changed since theirs.
        revision = await store.bump_custom_metrics_version(session=session, model_run_id=run_id)
        await store.upsert_custom_metrics(
            session=session, model_run_id=run_id, rows=changed, revision=revision
        )
    return UploadCounts(new=new, updated=updated, ignored=ignored)


# --- query -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class Aggregate:
    """One aggregate: a scalar ``value``, or per-confidence values, or confusion counts."""

    value: float | None
    count: int
    by_confidence: list[tuple[float, float | None]] | None = None
    confusion: Confusion | None = None


@dataclass(frozen=True)
class SubclassAggregate:
    subclass_name: str
    aggregate: Aggregate


@dataclass(frozen=True)
class FeatureAggregate:
    feature_name: str
    aggregate: Aggregate
    subclasses: list[SubclassAggregate]


@dataclass(frozen=True)
class MetricAggregate:
    name: str
    aggregation: Aggregation
    source: str  # RUN | PREDICTION
    kind: str  # SCALAR | CONFIDENCE | CONFUSION
    aggregate: Aggregate
    features: list[FeatureAggregate]


async def aggregate_custom_metrics(
    session: AsyncSession,
    *,
    cache: CustomMetricCache,
    model_run_id: int,
    item_ids: Sequence[int] | None,
    names: Sequence[str] | None = None,
) -> list[MetricAggregate]:
    """Aggregates over the given item row ids (None: every data row of the run)."""
    run = await store.select_run_versions(session=session, model_run_id=model_run_id)
    if run is None:
        raise NotFound("ModelRun", model_run_id, "modelRunId")
    columns = await cache.columns(
        session,
        model_run_id=model_run_id,
        versions=(run.custom_metrics_version, run.data_version),
        identity=run.created_at,
    )
    mask = None if item_ids is None else columns.item_mask(np.asarray(item_ids, dtype=np.int64))
    wanted = None if names is None else set(names)
    return [
        aggregate_block(block, columns, mask)
        for block in columns.blocks
        if wanted is None or block.name in wanted
    ]


async def query_custom_metrics(
    session: AsyncSession,
    *,
    cache: CustomMetricCache,
    model_run_id: int,
    dataset_id: int,
    filter: dict[str, Any] | None,
    slice_id: str | None,
    names: Sequence[str] | None,
) -> list[MetricAggregate]:
    """ModelRun.customMetrics: the slice is a filter and/or a saved slice (ANDed)."""
    item_ids: list[int] | None = None
    if filter is not None or slice_id is not None:
        item_ids = await resolve_item_ids(
            session,
            dataset_id=dataset_id,
            filter=filter,
            slice_id=slice_id,
            model_run_id=model_run_id,
        )
    return await aggregate_custom_metrics(
        session, cache=cache, model_run_id=model_run_id, item_ids=item_ids, names=names
    )


def _nan_to_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _aggregate_of(
    kind: str, values: FloatArray, count: int, confidences: tuple[float, ...]
) -> Aggregate:
    """values: (S, C) one row per confidence key (S = 1 unless kind is CONFIDENCE)."""
    if kind == CONFIDENCE:
        if count == 0:
            return Aggregate(value=None, count=0)
        by_conf = [(c, _nan_to_none(values[s, 0])) for s, c in enumerate(confidences)]
        return Aggregate(value=None, count=count, by_confidence=by_conf)
    if kind == CONFUSION:
        if count == 0 or np.isnan(values[0]).any():
            return Aggregate(value=None, count=0)
        tp, fp, tn, fn = (round(float(c)) for c in values[0])
        precision, recall, f1 = confusion_scores(values[0])
        return Aggregate(
            value=None, count=count, confusion=Confusion(tp, fp, tn, fn, precision, recall, f1)
        )
    return Aggregate(value=_nan_to_none(values[0, 0]), count=count)


def _distinct_counts(codes: IntArray, items: IntArray, n_codes: int) -> IntArray:
    """Per code, the distinct data rows holding it in any confidence key."""
    if codes.shape[0] == 0:
        return np.zeros(n_codes, dtype=np.int64)
    span = int(items.max()) + 1
    keys = np.unique(codes * span + items)
    return np.bincount(keys // span, minlength=n_codes).astype(np.int64)


def _keep(mask: BoolArray | None, item: IntArray) -> slice | BoolArray:
    return slice(None) if mask is None else mask[item]


def _grouped(
    values: FloatArray,
    series: IntArray,
    code: IntArray,
    n_codes: int,
    n_series: int,
    block: MetricBlock,
) -> tuple[FloatArray, FloatArray]:
    """(S, K, C) aggregates and (K,) counts (rows over all series, distinct only when S > 1)."""
    out, counts = keyed_reduce(
        values, series * n_codes + code, n_series * n_codes, block.aggregation
    )
    width = block.row_value.shape[1]
    return out.reshape(n_series, n_codes, width), counts.reshape(n_series, n_codes).sum(axis=0)


def aggregate_block(
    block: MetricBlock, columns: MetricColumns, mask: BoolArray | None
) -> MetricAggregate:
    """The slice, per-feature and per-nested-feature aggregates of one metric.

    ``mask`` (bool over ``columns.item_ids``) selects data rows; None selects all. Rows,
    features and nested features were rolled up at load time, so this is three masked
    ``bincount`` reductions.
    """
    n_features, n_pairs, s = len(columns.features), len(columns.pairs), block.n_series
    keep = _keep(mask, block.row_item)
    row_item = block.row_item[keep]
    slice_values, _ = _grouped(
        block.row_value[keep], block.row_series[keep], np.zeros_like(row_item), 1, s, block
    )
    count = int(np.unique(row_item).shape[0]) if s > 1 else int(row_item.shape[0])
    keep = _keep(mask, block.feature_item)
    f_item, f_code = block.feature_item[keep], block.feature_code[keep]
    feature_values, feature_count = _grouped(
        block.feature_value[keep], block.feature_series[keep], f_code, n_features, s, block
    )
    keep = _keep(mask, block.leaf_item)
    p_item, p_code = block.leaf_item[keep], block.leaf_pair[keep]
    pair_values, pair_count = _grouped(
        block.leaf_value[keep], block.leaf_series[keep], p_code, n_pairs, s, block
    )
    if s > 1:
        feature_count = _distinct_counts(f_code, f_item, n_features).astype(np.float64)
        pair_count = _distinct_counts(p_code, p_item, n_pairs).astype(np.float64)
    kind, confidences = block.kind, block.confidences
    subclasses: dict[int, list[SubclassAggregate]] = {}
    for p in np.flatnonzero(pair_count):
        feature_code, subclass_name = columns.pairs[int(p)]
        agg = _aggregate_of(kind, pair_values[:, p], int(pair_count[p]), confidences)
        subclasses.setdefault(feature_code, []).append(SubclassAggregate(subclass_name, agg))
    features = [
        FeatureAggregate(
            feature_name=columns.features[int(f)],
            aggregate=_aggregate_of(kind, feature_values[:, f], int(feature_count[f]), confidences),
            subclasses=sorted(subclasses.get(int(f), []), key=lambda a: a.subclass_name),
        )
        for f in np.flatnonzero(feature_count)
    ]
    features.sort(key=lambda a: a.feature_name)
    return MetricAggregate(
        name=block.name,
        aggregation=block.aggregation,
        source=block.source,
        kind=kind,
        aggregate=_aggregate_of(kind, slice_values[:, 0], count, confidences),
        features=features,
    )
