"""SQL of custom metrics: key look-ups for an upload, the upsert, and the column load.

Every upload stamps the rows it writes with the run's bumped ``custom_metrics_version``
(``revision``), so the column load can ask for only the rows written after a version it
already holds (``since_revision``; an index range on (model_run_id, revision)).

Look-ups with many keys go in chunks, so a 10,000-row batch stays under the bind-parameter
limits of SQLite (32,766) and asyncpg (32,767).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.storage.tables import CustomMetric, Item, ModelRun, Prediction, core, utcnow

METRIC = core(CustomMetric)
ITEM = core(Item)
RUN = core(ModelRun)
PREDICTION = core(Prediction)
CHUNK = 1000

#: (item id, feature name, subclass name, metric name): the key an upload replaces on.
MetricKey = tuple[int, str, str, str]


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


@dataclass(frozen=True)
class RunVersions:
    dataset_id: int
    custom_metrics_version: int
    data_version: int
    #: With the id, names this run and no other (a deleted run's id may be reused on SQLite).
    created_at: datetime | None = None


async def select_run_versions(
    *, session: AsyncSession, model_run_id: int, lock: bool = False
) -> RunVersions | None:
    """``lock``: hold the run row (PostgreSQL FOR UPDATE) so concurrent uploads to one run
    serialise and the one-shape-per-name check cannot race; SQLite writers already do."""
    statement = sa.select(
        RUN.c.dataset_id, RUN.c.custom_metrics_version, RUN.c.data_version, RUN.c.created_at
    ).where(RUN.c.id == model_run_id)
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).first()
    return None if row is None else RunVersions(int(row[0]), int(row[1]), int(row[2]), row[3])


async def select_item_ids(
    *, session: AsyncSession, dataset_id: int, reference_ids: Iterable[str]
) -> dict[str, int]:
    """referenceId -> item row id, for the ones that exist."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(reference_ids))):
        rows = await session.execute(
            sa.select(ITEM.c.reference_id, ITEM.c.id).where(
                ITEM.c.dataset_id == dataset_id, ITEM.c.reference_id.in_(chunk)
            )
        )
        found.update((str(ref), int(pk)) for ref, pk in rows)
    return found


@dataclass(frozen=True)
class StoredShape:
    """How a metric name is stored in a run: kind, aggregation and whether it is by confidence."""

    name: str
    kind: str
    aggregation: str
    by_confidence: bool


def _by_confidence_expr() -> sa.ColumnElement[bool]:
    # A scalar by confidence is the only kind stored without a plain value.
    return sa.and_(METRIC.c.kind == "SCALAR", METRIC.c.value.is_(None))


async def select_stored_shapes(
    *, session: AsyncSession, model_run_id: int, names: Iterable[str]
) -> list[StoredShape]:
    shapes: list[StoredShape] = []
    by_conf = _by_confidence_expr()
    for chunk in _chunks(sorted(set(names))):
        rows = await session.execute(
            sa.select(METRIC.c.name, METRIC.c.kind, METRIC.c.aggregation, by_conf)
            .where(METRIC.c.model_run_id == model_run_id, METRIC.c.name.in_(chunk))
            .distinct()
        )
        shapes.extend(StoredShape(str(n), str(k), str(a), bool(b)) for n, k, a, b in rows)
    return shapes


async def select_keys_of_shape(
    *, session: AsyncSession, model_run_id: int, shape: StoredShape
) -> set[MetricKey]:
    """The keys stored under ``shape`` (used only for a name whose shape an upload changes)."""
    by_conf = _by_confidence_expr()
    rows = await session.execute(
        sa.select(
            METRIC.c.item_id, METRIC.c.feature_name, METRIC.c.subclass_name, METRIC.c.name
        ).where(
            METRIC.c.model_run_id == model_run_id,
            METRIC.c.name == shape.name,
            METRIC.c.kind == shape.kind,
            METRIC.c.aggregation == shape.aggregation,
            by_conf if shape.by_confidence else sa.not_(by_conf),
        )
    )
    return {(int(i), str(f), str(s), str(n)) for i, f, s, n in rows}


_STORED_FIELDS = ("kind", "aggregation", "value", "by_confidence", "tp", "fp", "tn", "fn")


async def select_stored_values(
    *, session: AsyncSession, model_run_id: int, keys: Sequence[MetricKey]
) -> dict[MetricKey, dict[str, Any]]:
    """The stored fields of the rows an upload names (to tell new, changed and unchanged)."""
    wanted = set(keys)
    out: dict[MetricKey, dict[str, Any]] = {}
    item_ids = sorted({k[0] for k in wanted})
    names = sorted({k[3] for k in wanted})
    columns = [METRIC.c[f] for f in _STORED_FIELDS]
    for chunk in _chunks(item_ids):
        rows = await session.execute(
            sa.select(
                METRIC.c.item_id,
                METRIC.c.feature_name,
                METRIC.c.subclass_name,
                METRIC.c.name,
                *columns,
            ).where(
                METRIC.c.model_run_id == model_run_id,
                METRIC.c.item_id.in_(chunk),
                METRIC.c.name.in_(names) if len(names) <= CHUNK else sa.true(),
            )
        )
        for row in rows:
            key = (int(row[0]), str(row[1]), str(row[2]), str(row[3]))
            if key in wanted:
                out[key] = dict(zip(_STORED_FIELDS, row[4:], strict=True))
    return out


async def upsert_custom_metrics(
    *, session: AsyncSession, model_run_id: int, rows: Sequence[dict[str, Any]], revision: int
) -> None:
    """Inserts or replaces rows (item_id, feature_name, subclass_name, name + stored fields),
    stamping each with ``revision`` (the run's version after this upload's bump).

    ON CONFLICT keeps two concurrent uploads of a new key from failing on PostgreSQL, where
    writers do not serialise as they do on SQLite.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    payload = [
        {**row, "model_run_id": model_run_id, "created_at": now, "revision": revision}
        for row in rows
    ]
    statement = insert(METRIC)
    statement = statement.on_conflict_do_update(
        index_elements=["model_run_id", "item_id", "feature_name", "subclass_name", "name"],
        set_={f: statement.excluded[f] for f in (*_STORED_FIELDS, "created_at", "revision")},
    )
    for start in range(0, len(payload), CHUNK):
        await session.execute(statement, payload[start : start + CHUNK])


async def bump_custom_metrics_version(*, session: AsyncSession, model_run_id: int) -> int:
    """The run's new version (the revision the upload's rows carry)."""
    result = await session.execute(
        sa.update(RUN)
        .where(RUN.c.id == model_run_id)
        .values(custom_metrics_version=RUN.c.custom_metrics_version + 1)
        .returning(RUN.c.custom_metrics_version)
    )
    return int(result.scalar_one())


ScalarKey = tuple[str, str, str, str]  # feature_name, subclass_name, name, aggregation
#: Combined string codes stay below this in one int64; beyond it they are combined stepwise.
KEY_LIMIT = 2**62


@dataclass(frozen=True)
class ScalarColumns:
    """The run's plain scalar metrics (the bulk of any run) as columns: value ``i`` belongs to
    data row ``item_id[i]`` under ``keys[group[i]]``."""

    keys: list[ScalarKey]
    group: NDArray[np.int64]
    item_id: NDArray[np.int64]
    value: NDArray[np.float64]

    @property
    def size(self) -> int:
        return int(self.item_id.shape[0])


def _code_column(values: Sequence[str]) -> tuple[list[str], NDArray[np.int64]]:
    """Distinct strings in first-seen order and each value's index among them."""
    index: dict[str, int] = {}
    codes = [index[v] if v in index else index.setdefault(v, len(index)) for v in values]
    return list(index), np.asarray(codes, dtype=np.int64)


def _grouped_rows(rows: Sequence[Sequence[Any]]) -> ScalarColumns:
    """(item_id, feature_name, subclass_name, name, aggregation, value) rows as columns
    (CPU work: runs off the event loop).

    Columns are read one at a time (transposing with ``zip(*rows)`` costs several times more)
    and strings coded per column (a dict look-up per value); the four codes are combined in
    numpy, since hashing a tuple per row would dominate the load of a million values.
    """
    if not rows:
        return _no_scalars()
    coded = [_code_column([r[i] for r in rows]) for i in range(1, 5)]
    group = np.zeros(len(rows), dtype=np.int64)
    keys: list[tuple[str, ...]] = [()]
    if math.prod(len(distinct) for distinct, _ in coded) < KEY_LIMIT:
        for distinct, codes in coded:
            group = group * len(distinct) + codes
        combined, inverse = np.unique(group, return_inverse=True)
        keys = []
        for k in combined.tolist():
            key: list[str] = []
            for distinct, _ in reversed(coded):
                k, at = divmod(k, len(distinct))
                key.append(distinct[at])
            keys.append(tuple(reversed(key)))
    else:  # too many distinct strings for one int64 key: combine and re-densify step by step
        for distinct, codes in coded:
            span = len(distinct)
            combined, inverse = np.unique(group * span + codes, return_inverse=True)
            keys = [(*keys[k // span], distinct[k % span]) for k in combined.tolist()]
            group = inverse.reshape(-1).astype(np.int64)
    return ScalarColumns(
        keys=[(k[0], k[1], k[2], k[3]) for k in keys],
        group=inverse.reshape(-1).astype(np.int64),
        item_id=np.asarray([r[0] for r in rows], dtype=np.int64),
        value=np.asarray([r[5] for r in rows], dtype=np.float64),
    )


def _no_scalars() -> ScalarColumns:
    return ScalarColumns(
        [], np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    )


def _is_plain_scalar() -> sa.ColumnElement[bool]:
    return sa.and_(METRIC.c.kind == "SCALAR", METRIC.c.value.is_not(None))


def _of_run(model_run_id: int, since_revision: int | None) -> sa.ColumnElement[bool]:
    """The run's rows; with ``since_revision``, only those written by a later upload."""
    if since_revision is None:
        return METRIC.c.model_run_id == model_run_id
    return sa.and_(METRIC.c.model_run_id == model_run_id, METRIC.c.revision > since_revision)


async def _fetch_tuples(
    session: AsyncSession, statement: sa.Select[Any]
) -> Sequence[Sequence[Any]]:
    """All rows, straight from the driver (aiosqlite or asyncpg), in the session's transaction.

    For a million rows SQLAlchemy's per-row adaptation costs more than the query itself; the
    statement is still built and compiled by SQLAlchemy, with bound parameters.
    """
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    compiled = statement.compile(dialect=connection.dialect)
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    if connection.dialect.driver == "aiosqlite" and driver is not None:
        cursor = await driver.execute(str(compiled), params)
        try:
            rows: Sequence[Sequence[Any]] = await cursor.fetchall()
        finally:
            await cursor.close()
        return rows
    if connection.dialect.driver == "asyncpg" and driver is not None:
        records: Sequence[Sequence[Any]] = await driver.fetch(str(compiled), *params)
        return records
    return list((await connection.execute(statement)).tuples())


async def select_scalar_columns(
    *, session: AsyncSession, model_run_id: int, since_revision: int | None = None
) -> ScalarColumns:
    """The plain scalars (all, or written after ``since_revision``).

    PostgreSQL groups them by key and sends each group's item ids and values as two arrays
    (``array_agg``; float8 travels in binary, exact), so the four strings are decoded once per
    key instead of once per value. SQLite sends rows: it has no exact array of REALs.
    """
    where = sa.and_(_of_run(model_run_id, since_revision), _is_plain_scalar())
    key_columns = (
        METRIC.c.feature_name,
        METRIC.c.subclass_name,
        METRIC.c.name,
        METRIC.c.aggregation,
    )
    if session.get_bind().dialect.name == "postgresql":
        groups = await _fetch_tuples(
            session,
            sa.select(
                *key_columns,
                sa.func.array_agg(METRIC.c.item_id),
                sa.func.array_agg(METRIC.c.value),
            )
            .where(where)
            .group_by(*key_columns),
        )
        if not groups:
            return _no_scalars()
        sizes = [len(g[4]) for g in groups]
        return ScalarColumns(
            keys=[(str(g[0]), str(g[1]), str(g[2]), str(g[3])) for g in groups],
            group=np.repeat(np.arange(len(groups), dtype=np.int64), sizes),
            item_id=np.concatenate([np.asarray(g[4], dtype=np.int64) for g in groups]),
            value=np.concatenate([np.asarray(g[5], dtype=np.float64) for g in groups]),
        )
    rows = await _fetch_tuples(
        session, sa.select(METRIC.c.item_id, *key_columns, METRIC.c.value).where(where)
    )
    return await asyncio.to_thread(_grouped_rows, rows)


@dataclass(frozen=True)
class OtherMetricRow:
    """A confusion matrix or a scalar by confidence (rows with more than one number)."""

    item_id: int
    feature_name: str
    subclass_name: str
    name: str
    kind: str
    aggregation: str
    by_confidence: list[list[float]] | None
    counts: tuple[int, int, int, int]


async def select_other_metric_rows(
    *, session: AsyncSession, model_run_id: int, since_revision: int | None = None
) -> list[OtherMetricRow]:
    rows = await session.execute(
        sa.select(
            METRIC.c.item_id,
            METRIC.c.feature_name,
            METRIC.c.subclass_name,
            METRIC.c.name,
            METRIC.c.kind,
            METRIC.c.aggregation,
            METRIC.c.by_confidence,
            METRIC.c.tp,
            METRIC.c.fp,
            METRIC.c.tn,
            METRIC.c.fn,
        ).where(_of_run(model_run_id, since_revision), sa.not_(_is_plain_scalar()))
    )
    return [
        OtherMetricRow(
            int(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            str(r[5]),
            r[6],
            (int(r[7] or 0), int(r[8] or 0), int(r[9] or 0), int(r[10] or 0)),
        )
        for r in rows
    ]


async def select_prediction_metrics(
    *, session: AsyncSession, model_run_id: int
) -> list[tuple[int, int, str, Any]]:
    """(prediction id, item id, label, custom_metrics JSON) of the run's predictions that have any.

    The JSON type is tested in SQL, so predictions without metrics (most of them) are neither
    sent nor decoded.
    """
    dialect = session.get_bind().dialect.name
    json_type = sa.func.jsonb_typeof if dialect == "postgresql" else sa.func.json_type
    rows = await session.execute(
        sa.select(
            PREDICTION.c.id, PREDICTION.c.item_id, PREDICTION.c.label, PREDICTION.c.custom_metrics
        )
        .where(
            PREDICTION.c.model_run_id == model_run_id,
            json_type(PREDICTION.c.custom_metrics) == "array",
        )
        .order_by(PREDICTION.c.id)
    )
    return [(int(p), int(i), str(label), cm) for p, i, label, cm in rows if cm]
