"""SQL of the upload path: resolve keys, read what exists, and write a batch in one statement.

Every write is one executemany of ``INSERT ... ON CONFLICT (user key) DO UPDATE | DO NOTHING``
(SQLAlchemy's dialect insert for SQLite or PostgreSQL), so a batch costs a handful of round
trips whatever its size.

Lookups read only the batch's own keys, each probed through the table's unique key, so their
cost follows the batch, not the table. The keys travel as one parameter per key column
(PostgreSQL arrays through ``unnest``; one JSON text through SQLite's ``json_each``), which
also keeps them clear of bound-parameter limits. The probe order is forced (a LATERAL
subquery with LIMIT 1; SQLite's CROSS JOIN) rather than left to the planner: given a plain
join, both planners chose the (run, label) index and filtered every prediction of the run,
as PostgreSQL also did for the former per-item query on a table without fresh statistics,
so a run's upload slowed down as it grew (1M predictions: 6.6k rows/s, now 29k).

On PostgreSQL a batch whose keys are all new (the caller looked them up under the dataset's
or run's row lock) of at least ``COPY_MIN_ROWS`` rows is written with COPY instead.

Writes go through copies of the tables whose JSON columns take JSON *text*: the batch is
serialised here with orjson (SQLAlchemy's JSON type would call ``json.dumps`` per value, the
largest single cost of a batch insert), and a Python None is stored as SQL NULL.

The batch itself is handed to the driver as positional tuples with ``exec_driver_sql``: each
statement is compiled once per dialect and column set, and only the columns whose type has a
bind processor (SQLite's DATETIME and FLOAT) are touched per row. SQLAlchemy's own executemany
rebuilt a parameter dict per row (``construct_params``), about a fifth of a batch's CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from sliceboard.storage.tables import Annotation, Dataset, Item, ModelRun, Prediction, core

ITEM = core(Item)
ANNOTATION = core(Annotation)
PREDICTION = core(Prediction)
DATASET = core(Dataset)
MODEL_RUN = core(ModelRun)


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


def _records(
    rows: list[Row],
    order: tuple[str, ...],
    json_columns: tuple[str, ...],
    processors: list[tuple[int, Processor]],
) -> list[tuple[Any, ...]]:
    """The rows as positional tuples in ``order``, built column by column: JSON columns as
    text (None stays NULL; a column that is None throughout is left as it is), then each bind
    processor over its column (once for a column of one value: a batch shares one created_at)."""
    width = len(rows[0])
    if len(set(map(len, rows))) > 1:
        raise ValueError(
            "rows of one batch must carry the same columns: "
            + str(sorted(next(row for row in rows if len(row) != width)))
        )
    columns: list[list[Any]] = [[row[name] for row in rows] for name in order]
    dumps = orjson.dumps
    for position, name in enumerate(order):
        if name in json_columns:
            column = columns[position]
            if column.count(None) < len(column):
                columns[position] = [
                    None if value is None else dumps(value).decode() for value in column
                ]
    for position, processor in processors:
        column = columns[position]
        first = column[0]
        if column.count(first) == len(column):  # one value throughout (a batch's created_at)
            columns[position] = [processor(first)] * len(column)
        else:
            columns[position] = list(map(processor, column))
    return list(zip(*columns, strict=True))


#: From this many rows, a PostgreSQL batch of new rows is written with COPY.
COPY_MIN_ROWS = 500


async def _copy(session: AsyncSession, table: sa.Table, rows: list[Row]) -> None:
    """COPY new rows into ``table`` through asyncpg (binary protocol): no conflict can occur,
    the caller found none of the keys under the dataset's or run's row lock, and a batch's own
    keys are distinct. JSON columns travel as text, which jsonb's codec takes."""
    _, json_columns = _WRITE_TABLES[("postgresql", table.name)]
    columns = tuple(rows[0])
    records = _records(rows, columns, json_columns, [])
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(table.name, records=records, columns=list(columns))


async def _upsert(
    session: AsyncSession,
    table: sa.Table,
    rows: list[Row],
    *,
    keys: Sequence[str],
    values: Sequence[str],
    update: bool,
    all_new: bool = False,
) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect
    if all_new and dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        await _copy(session, table, rows)
        return
    _, json_columns = _WRITE_TABLES[(dialect.name, table.name)]
    columns = tuple(rows[0])
    sql, order, processors = _compiled_upsert(
        dialect, table.name, columns, tuple(keys), tuple(values) if update else None
    )
    params = _records(rows, order, json_columns, processors)
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


# (dialect, table, scope column, key columns, value columns) -> the lookup's statement
_LOOKUPS: dict[tuple[str, str, str | None, tuple[str, ...], tuple[str, ...]], sa.TextualSelect] = {}


# PostgreSQL plans a prepared statement once for all ("generic") after five runs when that
# looks cheaper, and the generic plan of a lookup cannot know how many keys it gets: cached
# while the table was nearly empty, it kept scanning a run's predictions for every key after
# the table had grown (an upload of 300k rows fell from 25k to 6k rows/s). A plan made for
# each call sees the table's current size; the mode is set for the lookup only.
_FORCE_CUSTOM_PLAN = sa.text(
    "SELECT current_setting('plan_cache_mode'),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)"
)
_SET_PLAN_MODE = sa.text("SELECT set_config('plan_cache_mode', :mode, true)")


def _pg_array_type(column: sa.Column[Any]) -> str:
    return "bigint[]" if isinstance(column.type, sa.Integer) else "text[]"


def _build_lookup(
    dialect: sa.Dialect,
    table: sa.Table,
    scope: str | None,
    keys: tuple[str, ...],
    names: tuple[str, ...],
) -> sa.TextualSelect:
    """SELECT keys + names of the rows matching the bound keys, one unique-key probe per key.

    Binds ``scope`` (when a scope column is given) and, on PostgreSQL, one array per key
    column named after it; on SQLite, ``keys`` as a JSON list of [key values] lists.
    """
    quote = dialect.identifier_preparer.quote
    name = quote(table.name)
    where = [f"t.{quote(scope)} = :scope"] if scope is not None else []
    if dialect.name == "postgresql":
        arrays = ", ".join(f"CAST(:{key} AS {_pg_array_type(table.c[key])})" for key in keys)
        where += [f"t.{quote(key)} = k.{quote(key)}" for key in keys]
        picked = ", ".join(f"t.{quote(n)}" for n in names) or "1"
        sql = (
            f"SELECT {', '.join(f'k.{quote(key)}' for key in keys)}"
            f"{''.join(f', hit.{quote(n)}' for n in names)} "
            f"FROM unnest({arrays}) AS k({', '.join(quote(key) for key in keys)}) "
            f"CROSS JOIN LATERAL (SELECT {picked} FROM {name} AS t "
            f"WHERE {' AND '.join(where)} LIMIT 1) AS hit"
        )
    else:
        where += [f"t.{quote(key)} = json_extract(k.value, '$[{i}]')" for i, key in enumerate(keys)]
        sql = (
            f"SELECT {', '.join(f't.{quote(c)}' for c in (*keys, *names))} "
            f"FROM json_each(:keys) AS k CROSS JOIN {name} AS t "
            f"WHERE {' AND '.join(where)}"
        )
    return sa.text(sql).columns(*(table.c[c] for c in (*keys, *names)))


async def _lookup(
    session: AsyncSession,
    table: sa.Table,
    *,
    scope: tuple[str, int] | None,
    key_names: tuple[str, ...],
    keys: Iterable[tuple[Any, ...]],
    names: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    """(key values..., ``names`` values...) of the rows of ``table`` whose key is in ``keys``."""
    unique = list(dict.fromkeys(keys))
    if not unique:
        return []
    dialect = session.get_bind().dialect
    scope_column = scope[0] if scope is not None else None
    cache_key = (dialect.name, table.name, scope_column, key_names, names)
    statement = _LOOKUPS.get(cache_key)
    if statement is None:
        statement = _LOOKUPS[cache_key] = _build_lookup(
            dialect, table, scope_column, key_names, names
        )
    params: dict[str, Any] = {} if scope is None else {"scope": scope[1]}
    if dialect.name != "postgresql":
        params["keys"] = orjson.dumps(unique).decode()
        return list((await session.execute(statement, params)).tuples())
    for position, key in enumerate(key_names):
        params[key] = [values[position] for values in unique]
    previous = (await session.execute(_FORCE_CUSTOM_PLAN)).scalar_one()
    rows = list((await session.execute(statement, params)).tuples())
    await session.execute(_SET_PLAN_MODE, {"mode": previous})
    return rows


async def select_item_ids(
    *, session: AsyncSession, dataset_id: int, reference_ids: Sequence[str]
) -> dict[str, int]:
    """referenceId -> item row id, for those of ``reference_ids`` that exist in the dataset."""
    rows = await _lookup(
        session,
        ITEM,
        scope=("dataset_id", dataset_id),
        key_names=("reference_id",),
        keys=((ref,) for ref in reference_ids),
        names=("id",),
    )
    return {ref: item_id for ref, item_id in rows}


async def select_items(
    *, session: AsyncSession, dataset_id: int, reference_ids: Sequence[str]
) -> dict[str, Row]:
    """The replaceable columns of existing items, by referenceId."""
    rows = await _lookup(
        session,
        ITEM,
        scope=("dataset_id", dataset_id),
        key_names=("reference_id",),
        keys=((ref,) for ref in reference_ids),
        names=ITEM_VALUES,
    )
    return {row[0]: dict(zip(ITEM_VALUES, row[1:], strict=True)) for row in rows}


ObjectKey = tuple[int, str]


async def _select_object_rows(
    session: AsyncSession,
    table: sa.Table,
    names: tuple[str, ...],
    keys: Sequence[ObjectKey],
    scope: tuple[str, int] | None,
) -> dict[ObjectKey, Row]:
    rows = await _lookup(
        session,
        table,
        scope=scope,
        key_names=("item_id", "annotation_id"),
        keys=keys,
        names=names,
    )
    return {(row[0], row[1]): dict(zip(names, row[2:], strict=True)) for row in rows}


async def select_annotation_rows(
    *, session: AsyncSession, keys: Sequence[ObjectKey], with_values: bool
) -> dict[ObjectKey, Row]:
    """The existing annotations among ``keys`` (item id, annotationId).

    The values are the replaceable columns when ``with_values``, else empty dicts (counting
    new rows needs only the keys). Other annotations of the same items are not read.
    """
    names = ANNOTATION_VALUES if with_values else ()
    return await _select_object_rows(session, ANNOTATION, names, keys, None)


async def select_prediction_rows(
    *, session: AsyncSession, model_run_id: int, keys: Sequence[ObjectKey], with_values: bool
) -> dict[ObjectKey, Row]:
    """A run's existing predictions among ``keys``, as ``select_annotation_rows``."""
    names = PREDICTION_VALUES if with_values else ()
    return await _select_object_rows(
        session, PREDICTION, names, keys, ("model_run_id", model_run_id)
    )


async def upsert_item_rows(
    *, session: AsyncSession, rows: list[Row], update: bool, all_new: bool = False
) -> None:
    """Rows carry dataset_id, reference_id, created_at and ITEM_VALUES. ``all_new``: none of
    their keys exists (the caller looked under the row lock), so PostgreSQL may COPY them."""
    await _upsert(
        session,
        ITEM,
        rows,
        keys=("dataset_id", "reference_id"),
        values=ITEM_VALUES,
        update=update,
        all_new=all_new,
    )


async def upsert_annotation_rows(
    *, session: AsyncSession, rows: list[Row], update: bool, all_new: bool = False
) -> None:
    """Rows carry dataset_id, item_id, annotation_id, created_at and ANNOTATION_VALUES."""
    await _upsert(
        session,
        ANNOTATION,
        rows,
        keys=("item_id", "annotation_id"),
        values=ANNOTATION_VALUES,
        update=update,
        all_new=all_new,
    )


async def upsert_prediction_rows(
    *, session: AsyncSession, rows: list[Row], update: bool, all_new: bool = False
) -> None:
    """Rows carry model_run_id, item_id, annotation_id, created_at and PREDICTION_VALUES."""
    await _upsert(
        session,
        PREDICTION,
        rows,
        keys=("model_run_id", "item_id", "annotation_id"),
        values=PREDICTION_VALUES,
        update=update,
        all_new=all_new,
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
