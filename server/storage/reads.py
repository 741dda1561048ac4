"""Read queries for the GraphQL read side: pages, counts and the batch loads behind DataLoaders.

Batch loads take a list of keys and answer in ONE statement, so a page of 100 items with their
annotations costs a handful of statements, not one per item.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel

from sliceboard.storage import tables
from sliceboard.storage.pagination import Page, count_rows, fetch_page

TableT = TypeVar("TableT", bound=SQLModel)


def _c(table: type[SQLModel], name: str) -> Any:
    return table.__table__.c[name]  # type: ignore[attr-defined]


@functools.cache
def _as_attributes(table: type[SQLModel]) -> tuple[Any, ...]:
    """``table``'s columns labelled with the model's attribute names (``metadata_``)."""
    return tuple(
        attribute.columns[0].label(attribute.key) for attribute in sa.inspect(table).column_attrs
    )


async def _read_only_rows(session: AsyncSession, statement: sa.Select[Any]) -> list[Any]:
    """Core rows that read like the model's objects (``row.label``, ``row.metadata_``).

    For pages the GraphQL layer only reads: building ORM objects for the 800 annotations of a
    page of items was ~15% of its CPU (py-spy, ``bench/mixed_load.py``). They are not in the
    session, so never hand them to code that writes.
    """
    connection = await session.connection()
    return list(await connection.execute(statement))


async def row_by_id(*, session: AsyncSession, table: type[TableT], id: int) -> TableT | None:
    """The row of ``table`` with this primary key, or None."""
    return await session.get(table, id)


async def rows_by_ids(
    *, session: AsyncSession, table: type[TableT], ids: Sequence[int]
) -> list[TableT]:
    """The rows of ``table`` with these primary keys (any order; missing ids are simply absent)."""
    if not ids:
        return []
    statement = sa.select(table).where(_c(table, "id").in_(sorted(set(ids))))
    return list((await session.execute(statement)).scalars())


async def get_dataset_by_name(*, session: AsyncSession, name: str) -> tables.Dataset | None:
    statement = sa.select(tables.Dataset).where(_c(tables.Dataset, "name") == name)
    return (await session.execute(statement)).scalar_one_or_none()


async def get_model_by_reference_id(
    *, session: AsyncSession, reference_id: str
) -> tables.Model | None:
    statement = sa.select(tables.Model).where(_c(tables.Model, "reference_id") == reference_id)
    return (await session.execute(statement)).scalar_one_or_none()


# --- pages ------------------------------------------------------------------------------------


def _datasets_among(statement: Any, only: frozenset[int] | None) -> Any:
    """``statement`` over datasets, kept to the ids in ``only`` (None: all)."""
    if only is None:
        return statement
    return statement.where(_c(tables.Dataset, "id").in_(sorted(only)))


async def page_datasets(
    *, session: AsyncSession, after_id: int | None, limit: int, only: frozenset[int] | None = None
) -> Page[tables.Dataset]:
    return await fetch_page(
        session=session,
        statement=_datasets_among(sa.select(tables.Dataset), only),
        id_column=_c(tables.Dataset, "id"),
        after_id=after_id,
        limit=limit,
    )


async def count_datasets(*, session: AsyncSession, only: frozenset[int] | None = None) -> int:
    return await count_rows(
        session=session, statement=_datasets_among(sa.select(_c(tables.Dataset, "id")), only)
    )


async def page_models(
    *, session: AsyncSession, after_id: int | None, limit: int
) -> Page[tables.Model]:
    return await fetch_page(
        session=session,
        statement=sa.select(tables.Model),
        id_column=_c(tables.Model, "id"),
        after_id=after_id,
        limit=limit,
    )


async def count_models(*, session: AsyncSession) -> int:
    return await count_rows(session=session, statement=sa.select(_c(tables.Model, "id")))


async def page_items(
    *, session: AsyncSession, where: ColumnElement[bool], after_id: int | None, limit: int
) -> Page[tables.Item]:
    """Items matching ``where`` (built by ``sliceboard.storage.filters.item_filter_clause``)."""
    return await fetch_page(
        session=session,
        statement=sa.select(tables.Item).where(where),
        id_column=_c(tables.Item, "id"),
        after_id=after_id,
        limit=limit,
    )


async def count_items(*, session: AsyncSession, where: ColumnElement[bool]) -> int:
    return await count_rows(
        session=session, statement=sa.select(_c(tables.Item, "id")).where(where)
    )


_DATASET = tables.Dataset.__table__.c  # type: ignore[attr-defined]
_DATASET_VERSIONS = sa.select(_DATASET.items_version, _DATASET.annotations_version).where(
    _DATASET.id == sa.bindparam("dataset_id")
)


async def dataset_versions(*, session: AsyncSession, dataset_id: int) -> tuple[int, int] | None:
    """(items_version, annotations_version) of a dataset; None when it does not exist.

    Asked on every metrics request: one statement built once, run on the session's connection
    (a Core statement through ``AsyncSession.execute`` also pays the ORM's execution path).
    """
    connection = await session.connection()
    row = (await connection.execute(_DATASET_VERSIONS, {"dataset_id": dataset_id})).first()
    return None if row is None else (int(row[0]), int(row[1]))


async def select_item_ids(*, session: AsyncSession, where: ColumnElement[bool]) -> list[int]:
    statement = sa.select(_c(tables.Item, "id")).where(where).order_by(_c(tables.Item, "id"))
    connection = await session.connection()  # Core: no ORM execution path for plain ids
    return [int(row) for row in (await connection.execute(statement)).scalars()]


def _annotations_where(dataset_id: int, labels: Sequence[str] | None) -> list[ColumnElement[bool]]:
    where = [_c(tables.Annotation, "dataset_id") == dataset_id]
    if labels is not None:
        where.append(_c(tables.Annotation, "label").in_(list(labels)))
    return where


async def page_annotations(
    *,
    session: AsyncSession,
    dataset_id: int,
    labels: Sequence[str] | None,
    after_id: int | None,
    limit: int,
) -> Page[tables.Annotation]:
    return await fetch_page(
        session=session,
        statement=sa.select(tables.Annotation).where(*_annotations_where(dataset_id, labels)),
        id_column=_c(tables.Annotation, "id"),
        after_id=after_id,
        limit=limit,
    )


async def count_annotations(
    *, session: AsyncSession, dataset_id: int, labels: Sequence[str] | None
) -> int:
    statement = sa.select(_c(tables.Annotation, "id")).where(
        *_annotations_where(dataset_id, labels)
    )
    return await count_rows(session=session, statement=statement)


def _predictions_where(
    model_run_id: int,
    labels: Sequence[str] | None,
    confidence_min: float | None,
    confidence_max: float | None,
    items: ColumnElement[bool] | None,
) -> list[ColumnElement[bool]]:
    where = [_c(tables.Prediction, "model_run_id") == model_run_id]
    if labels is not None:
        where.append(_c(tables.Prediction, "label").in_(list(labels)))
    if confidence_min is not None:
        where.append(_c(tables.Prediction, "confidence") >= confidence_min)
    if confidence_max is not None:
        where.append(_c(tables.Prediction, "confidence") <= confidence_max)
    if items is not None:
        where.append(
            _c(tables.Prediction, "item_id").in_(sa.select(_c(tables.Item, "id")).where(items))
        )
    return where


async def page_predictions(
    *,
    session: AsyncSession,
    model_run_id: int,
    labels: Sequence[str] | None = None,
    confidence_min: float | None = None,
    confidence_max: float | None = None,
    items: ColumnElement[bool] | None = None,
    after_id: int | None,
    limit: int,
) -> Page[tables.Prediction]:
    where = _predictions_where(model_run_id, labels, confidence_min, confidence_max, items)
    return await fetch_page(
        session=session,
        statement=sa.select(tables.Prediction).where(*where),
        id_column=_c(tables.Prediction, "id"),
        after_id=after_id,
        limit=limit,
    )


async def count_predictions(
    *,
    session: AsyncSession,
    model_run_id: int,
    labels: Sequence[str] | None = None,
    confidence_min: float | None = None,
    confidence_max: float | None = None,
    items: ColumnElement[bool] | None = None,
) -> int:
    where = _predictions_where(model_run_id, labels, confidence_min, confidence_max, items)
    return await count_rows(
        session=session, statement=sa.select(_c(tables.Prediction, "id")).where(*where)
    )


# --- batch loads (one statement per batch of keys) --------------------------------------------


async def annotations_by_item_ids(
    *, session: AsyncSession, item_ids: Sequence[int]
) -> list[tables.Annotation]:
    """The items' annotations in id order, as read-only rows (``_read_only_rows``)."""
    if not item_ids:
        return []
    statement = (
        sa.select(*_as_attributes(tables.Annotation))
        .where(_c(tables.Annotation, "item_id").in_(sorted(set(item_ids))))
        .order_by(_c(tables.Annotation, "id"))
    )
    return await _read_only_rows(session, statement)


async def predictions_by_run_and_item_ids(
    *, session: AsyncSession, model_run_id: int, item_ids: Sequence[int]
) -> list[tables.Prediction]:
    """The run's predictions on these items in id order, as read-only rows (``_read_only_rows``)."""
    if not item_ids:
        return []
    statement = (
        sa.select(*_as_attributes(tables.Prediction))
        .where(
            _c(tables.Prediction, "model_run_id") == model_run_id,
            _c(tables.Prediction, "item_id").in_(sorted(set(item_ids))),
        )
        .order_by(_c(tables.Prediction, "id"))
    )
    return await _read_only_rows(session, statement)


async def labels_by_dataset_ids(
    *, session: AsyncSession, dataset_ids: Sequence[int]
) -> list[tuple[int, str]]:
    """(dataset id, label) pairs of the labels seen in each dataset's annotations, sorted."""
    if not dataset_ids:
        return []
    dataset, label = _c(tables.Annotation, "dataset_id"), _c(tables.Annotation, "label")
    statement = (
        sa.select(dataset, label)
        .where(dataset.in_(sorted(set(dataset_ids))))
        .distinct()
        .order_by(dataset, label)
    )
    return [(int(row[0]), str(row[1])) for row in (await session.execute(statement)).all()]


async def rows_by_parent_ids(
    *, session: AsyncSession, table: type[TableT], parent_column: str, parent_ids: Sequence[int]
) -> list[TableT]:
    """Children of many parents at once (slices or runs of datasets, runs of models), in id order."""
    if not parent_ids:
        return []
    statement = (
        sa.select(table)
        .where(_c(table, parent_column).in_(sorted(set(parent_ids))))
        .order_by(_c(table, "id"))
    )
    return list((await session.execute(statement)).scalars())
