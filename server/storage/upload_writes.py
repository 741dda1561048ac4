"""SQL of the upload path: resolve keys, read what exists, and write a batch in one statement.

Every write is one executemany of ``INSERT ... ON CONFLICT (user key) DO UPDATE | DO NOTHING``
(SQLAlchemy's dialect insert for SQLite or PostgreSQL), so a batch costs a handful of round
trips whatever its size. Lookups go in chunks of ``IN_CHUNK`` keys to stay under both
databases' bound-parameter limits.

Writes go through copies of the tables whose JSON columns take JSON *text*: the batch is
serialised here with orjson (SQLAlchemy's JSON type would call ``json.dumps`` per value, the
largest single cost of a batch insert), and a Python None is stored as SQL NULL.

The batch itself is handed to the driver as positional tuples with ``exec_driver_sql``: each
statement is compiled once per dialect and column set, and only the columns whose type has a
bind processor (SQLite's DATETIME and FLOAT) are touched per row. SQLAlchemy's own executemany
rebuilt a parameter dict per row (``construct_params``), about a fifth of a batch's CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from server.storage.tables import Annotation, Dataset, Item, ModelRun, Prediction, core

ITEM = core(Item)
ANNOTATION = core(Annotation)
PREDICTION = core(Prediction)
DATASET = core(Dataset)
MODEL_RUN = core(ModelRun)

IN_CHUNK = 5_000


class _JsonbText(sa.types.TypeDecorator[str]):
    """JSON text, cast to jsonb by PostgreSQL itself (asyncpg binds it as varchar)."""

    impl = sa.Text
    cache_ok = True

    def bind_expression(self, bindvalue: Any) -> Any:
        return sa.cast(bindvalue, JSONB)


def _json_as_text(table: sa.Table, text_type: Any) -> tuple[sa.Table, tuple[str, ...]]:
    """A write-only copy of ``table`` whose JSON columns bind text, and those columns' names."""
    json_columns = tuple(c.name for c in table.c if isinstance(c.type, sa.JSON))
    columns = [
        sa.Column(
            c.name, text_type() if c.name in json_columns else c.type, primary_key=c.primary_key
        )
        for c in table.c
    ]
    return sa.Table(table.name, sa.MetaData(), *columns), json_columns


_WRITE_TABLES = {
    (dialect, table.name): _json_as_text(table, text_type)
    for dialect, text_type in (("sqlite", sa.Text), ("postgresql", _JsonbText))
    for table in (ITEM, ANNOTATION, PREDICTION)
}


# Columns an upsert may replace, i.e. everything but keys, ids and created_at.
ITEM_VALUES = ("url", "width", "height", "metadata")
ANNOTATION_VALUES = ("label", "type", "geometry", "area", "iscrowd", "metadata", "classifications")
PREDICTION_VALUES = (
    "label",
    "type",
    "geometry",
    "area",
    "confidence",
    "class_pdf",
    "custom_metrics",
    "metadata",
    "classifications",
)

Row = dict[str, Any]


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def _insert(dialect: str, table: sa.Table) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


Processor = Callable[[Any], Any]


# (driver SQL, its parameters' column names in order, (position, bind processor) pairs)
Compiled = tuple[str, tuple[str, ...], list[tuple[int, Processor]]]
# By dialect *name*: every engine of a dialect compiles these statements alike.
_COMPILED: dict[tuple[str, str, tuple[str, ...], tuple[str, ...] | None], Compiled] = {}


def _compiled_upsert(
    dialect: sa.Dialect,
    table_name: str,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    values: tuple[str, ...] | None,
) -> Compiled:
    """The upsert of rows carrying ``columns``, compiled for the driver.

    ``values`` None means DO NOTHING on conflict, else the columns DO UPDATE replaces.
    """
    cache_key = (dialect.name, table_name, columns, values)
    compiled = _COMPILED.get(cache_key)
    if compiled is None:
        compiled = _COMPILED[cache_key] = _compile_upsert(
            dialect, table_name, columns, keys, values
        )
    return compiled


def _compile_upsert(
    dialect: sa.Dialect,
    table_name: str,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    values: tuple[str, ...] | None,
) -> Compiled:
    table, _ = _WRITE_TABLES[(dialect.name, table_name)]
    statement = _insert(dialect.name, table)
    if values is None:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    else:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={name: statement.excluded[name] for name in values}
        )
    compiled = statement.compile(dialect=dialect, column_keys=list(columns), for_executemany=True)
    order = tuple(compiled.positiontup or ())
    if sorted(order) != sorted(columns):  # a key that is no column of the table
        raise ValueError(f"{table_name} rows carry {sorted(columns)}, not columns {sorted(order)}")
    processors: list[tuple[int, Processor]] = []
    for position, name in enumerate(order):
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors.append((position, processor))
    return compiled.string, order, processors


def _memoised(processor: Processor) -> Processor:
    """A batch shares one created_at (and often one value of other columns): process it once."""
    last: list[Any] = [object(), None]

    def process(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, processor(value)
        return last[1]

    return process


async def _upsert(
    session: AsyncSession,
    table: sa.Table,
    rows: list[Row],
    *,
    keys: Sequence[str],
    values: Sequence[str],
    update: bool,
) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect
    _, json_columns = _WRITE_TABLES[(dialect.name, table.name)]
    columns = tuple(rows[0])
    sql, order, processors = _compiled_upsert(
        dialect, table.name, columns, tuple(keys), tuple(values) if update else None
    )
    dumps = [order.index(name) for name in json_columns if name in order]
    process = [(position, _memoised(processor)) for position, processor in processors]
    pick = itemgetter(*order)
    params = []
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"rows of one batch must carry the same columns: {sorted(row)}")
        values_ = list(pick(row))
        for position in dumps:
            value = values_[position]
            if value is not None:
                values_[position] = orjson.dumps(value).decode()
        for position, processor in process:
            values_[position] = processor(values_[position])
        params.append(tuple(values_))
    connection = await session.connection()
    await connection.exec_driver_sql(sql, params)


async def lock_dataset(*, session: AsyncSession, dataset_id: int) -> Dataset | None:
    """The dataset row, locked for this transaction on PostgreSQL (SQLite's writer lock already is)."""
    result = await session.execute(
        sa.select(Dataset).where(DATASET.c.id == dataset_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def lock_model_run(*, session: AsyncSession, model_run_id: int) -> ModelRun | None:
    result = await session.execute(
        sa.select(ModelRun).where(MODEL_RUN.c.id == model_run_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def select_item_ids(
    *, session: AsyncSession, dataset_id: int, reference_ids: Sequence[str]
) -> dict[str, int]:
    """referenceId -> item row id, for those of ``reference_ids`` that exist in the dataset."""
    found: dict[str, int] = {}
    for chunk in _chunks(reference_ids):
        result = await session.execute(
            sa.select(ITEM.c.reference_id, ITEM.c.id).where(
                ITEM.c.dataset_id == dataset_id, ITEM.c.reference_id.in_(chunk)
            )
        )
        found.update(result.tuples().all())
    return found


async def select_items(
    *, session: AsyncSession, dataset_id: int, reference_ids: Sequence[str]
) -> dict[str, Row]:
    """The replaceable columns of existing items, by referenceId."""
    columns = [ITEM.c[name] for name in ITEM_VALUES]
    found: dict[str, Row] = {}
    for chunk in _chunks(reference_ids):
        result = await session.execute(
            sa.select(ITEM.c.reference_id, *columns).where(
                ITEM.c.dataset_id == dataset_id, ITEM.c.reference_id.in_(chunk)
            )
        )
        for row in result.tuples():
            found[row[0]] = dict(zip(ITEM_VALUES, row[1:], strict=True))
    return found


async def _select_object_rows(
    session: AsyncSession,
    table: sa.Table,
    names: Sequence[str],
    item_ids: Sequence[int],
    model_run_id: int | None,
) -> dict[tuple[int, str], Row]:
    columns = [table.c[name] for name in names]
    found: dict[tuple[int, str], Row] = {}
    for chunk in _chunks(item_ids):
        query = sa.select(table.c.item_id, table.c.annotation_id, *columns).where(
            table.c.item_id.in_(chunk)
        )
        if model_run_id is not None:
            query = query.where(table.c.model_run_id == model_run_id)
        for row in (await session.execute(query)).tuples():
            found[(row[0], row[1])] = dict(zip(names, row[2:], strict=True))
    return found


async def select_annotation_rows(
    *, session: AsyncSession, item_ids: Sequence[int], with_values: bool
) -> dict[tuple[int, str], Row]:
    """Existing annotations of ``item_ids`` by (item id, annotationId).

    The values are the replaceable columns when ``with_values``, else empty dicts (counting
    new rows needs only the keys).
    """
    names = ANNOTATION_VALUES if with_values else ()
    return await _select_object_rows(session, ANNOTATION, names, item_ids, None)


async def select_prediction_rows(
    *, session: AsyncSession, model_run_id: int, item_ids: Sequence[int], with_values: bool
) -> dict[tuple[int, str], Row]:
    """A run's existing predictions on ``item_ids``, as ``select_annotation_rows``."""
    names = PREDICTION_VALUES if with_values else ()
    return await _select_object_rows(session, PREDICTION, names, item_ids, model_run_id)


async def upsert_item_rows(*, session: AsyncSession, rows: list[Row], update: bool) -> None:
    """Rows carry dataset_id, reference_id, created_at and ITEM_VALUES."""
    await _upsert(
        session, ITEM, rows, keys=("dataset_id", "reference_id"), values=ITEM_VALUES, update=update
    )


async def upsert_annotation_rows(*, session: AsyncSession, rows: list[Row], update: bool) -> None:
    """Rows carry dataset_id, item_id, annotation_id, created_at and ANNOTATION_VALUES."""
    await _upsert(
        session,
        ANNOTATION,
        rows,
        keys=("item_id", "annotation_id"),
        values=ANNOTATION_VALUES,
        update=update,
    )


async def upsert_prediction_rows(*, session: AsyncSession, rows: list[Row], update: bool) -> None:
    """Rows carry model_run_id, item_id, annotation_id, created_at and PREDICTION_VALUES."""
    await _upsert(
        session,
        PREDICTION,
        rows,
        keys=("model_run_id", "item_id", "annotation_id"),
        values=PREDICTION_VALUES,
        update=update,
    )


async def bump_annotations_version(*, session: AsyncSession, dataset: Dataset) -> None:
    """Marks the dataset's ground truth as changed, so evaluations built on it turn stale."""
    result = await session.execute(
        sa.update(DATASET)
        .where(DATASET.c.id == dataset.id)
        .values(annotations_version=DATASET.c.annotations_version + 1)
        .returning(DATASET.c.annotations_version)
    )
    set_committed_value(dataset, "annotations_version", result.scalar_one())


async def bump_data_version(*, session: AsyncSession, model_run: ModelRun) -> None:
    """Marks a run's predictions or label set as changed."""
    result = await session.execute(
        sa.update(MODEL_RUN)
        .where(MODEL_RUN.c.id == model_run.id)
        .values(data_version=MODEL_RUN.c.data_version + 1)
        .returning(MODEL_RUN.c.data_version)
    )
    set_committed_value(model_run, "data_version", result.scalar_one())


async def bump_items_version(*, session: AsyncSession, dataset_id: int) -> None:
    """Marks the dataset's items as changed, so cached filter resolutions over it are not reused."""
    await session.execute(
        sa.update(DATASET)
        .where(DATASET.c.id == dataset_id)
        .values(items_version=DATASET.c.items_version + 1)
    )
