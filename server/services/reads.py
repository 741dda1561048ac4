"""Read use cases behind the GraphQL read side: pages with counts, and batch loads grouped by
key for DataLoaders (a loader must answer one value per key, in key order).

Rows by id, children by parent, dataset pages and lookups by name show a dataset-limited key
only its datasets' rows (``services.visibility``): a hidden row is a missing one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel

from sliceboard.services.slices import items_clause
from sliceboard.services.visibility import restriction, visible, visible_row
from sliceboard.storage import reads, tables
from sliceboard.storage.pagination import Page

RowT = TypeVar("RowT", bound=SQLModel)


async def row_by_id(session: AsyncSession, *, table: type[RowT], id: int) -> RowT | None:
    return await visible_row(session, await reads.row_by_id(session=session, table=table, id=id))


async def rows_in_key_order(
    session: AsyncSession, *, table: type[RowT], ids: Sequence[int]
) -> list[RowT | None]:
    """One row (or None) per id, in the order of ``ids``."""
    found = {row.id: row for row in await reads.rows_by_ids(session=session, table=table, ids=ids)}  # type: ignore[attr-defined]
    return await visible(session, [found.get(key) for key in ids])


def _grouped(rows: Sequence[RowT], attribute: str, keys: Sequence[int]) -> list[list[RowT]]:
    groups: dict[int, list[RowT]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, attribute)].append(row)
    return [groups.get(key, []) for key in keys]


async def annotations_of_items(
    session: AsyncSession, *, item_ids: Sequence[int]
) -> list[list[tables.Annotation]]:
    rows = await reads.annotations_by_item_ids(session=session, item_ids=item_ids)
    return _grouped(rows, "item_id", item_ids)


async def predictions_of_items(
    session: AsyncSession, *, keys: Sequence[tuple[int, int]]
) -> list[list[tables.Prediction]]:
    """Predictions per (model run id, item id) key: one statement per distinct run in the batch."""
    by_key: dict[tuple[int, int], list[tables.Prediction]] = defaultdict(list)
    runs: dict[int, list[int]] = defaultdict(list)
    for run_id, item_id in keys:
        runs[run_id].append(item_id)
    for run_id, item_ids in runs.items():
        rows = await reads.predictions_by_run_and_item_ids(
            session=session, model_run_id=run_id, item_ids=item_ids
        )
        for row in rows:
            by_key[(run_id, row.item_id)].append(row)
    return [by_key.get(key, []) for key in keys]


async def labels_of_datasets(
    session: AsyncSession, *, dataset_ids: Sequence[int]
) -> list[list[str]]:
    groups: dict[int, list[str]] = defaultdict(list)
    for dataset_id, label in await reads.labels_by_dataset_ids(
        session=session, dataset_ids=dataset_ids
    ):
        groups[dataset_id].append(label)
    return [groups.get(key, []) for key in dataset_ids]


async def children_of(
    session: AsyncSession, *, table: type[RowT], parent_column: str, parent_ids: Sequence[int]
) -> list[list[RowT]]:
    rows = await reads.rows_by_parent_ids(
        session=session, table=table, parent_column=parent_column, parent_ids=parent_ids
    )
    if restriction() is not None:
        rows = [row for row in await visible(session, rows) if row is not None]
    return _grouped(rows, parent_column, parent_ids)


async def dataset_by_name(session: AsyncSession, *, name: str) -> tables.Dataset | None:
    return await visible_row(session, await reads.get_dataset_by_name(session=session, name=name))


async def model_by_reference_id(session: AsyncSession, *, reference_id: str) -> tables.Model | None:
    return await reads.get_model_by_reference_id(session=session, reference_id=reference_id)


# --- pages ------------------------------------------------------------------------------------


async def page_datasets(
    session: AsyncSession, *, after_id: int | None, limit: int
) -> Page[tables.Dataset]:
    return await reads.page_datasets(
        session=session, after_id=after_id, limit=limit, only=restriction()
    )


async def count_datasets(session: AsyncSession) -> int:
    return await reads.count_datasets(session=session, only=restriction())


async def page_models(
    session: AsyncSession, *, after_id: int | None, limit: int
) -> Page[tables.Model]:
    return await reads.page_models(session=session, after_id=after_id, limit=limit)


async def count_models(session: AsyncSession) -> int:
    return await reads.count_models(session=session)


async def page_items(
    session: AsyncSession,
    *,
    dataset_id: int,
    filter: dict[str, Any] | None,
    slice_id: str | None = None,
    model_run_id: int | None = None,
    after_id: int | None,
    limit: int,
) -> Page[tables.Item]:
    where = await items_clause(
        session, dataset_id=dataset_id, filter=filter, slice_id=slice_id, model_run_id=model_run_id
    )
    return await reads.page_items(session=session, where=where, after_id=after_id, limit=limit)


async def count_items(
    session: AsyncSession,
    *,
    dataset_id: int,
    filter: dict[str, Any] | None,
    slice_id: str | None = None,
    model_run_id: int | None = None,
) -> int:
    where = await items_clause(
        session, dataset_id=dataset_id, filter=filter, slice_id=slice_id, model_run_id=model_run_id
    )
    return await reads.count_items(session=session, where=where)


async def page_annotations(
    session: AsyncSession,
    *,
    dataset_id: int,
    labels: Sequence[str] | None,
    after_id: int | None,
    limit: int,
) -> Page[tables.Annotation]:
    return await reads.page_annotations(
        session=session, dataset_id=dataset_id, labels=labels, after_id=after_id, limit=limit
    )


async def count_annotations(
    session: AsyncSession, *, dataset_id: int, labels: Sequence[str] | None
) -> int:
    return await reads.count_annotations(session=session, dataset_id=dataset_id, labels=labels)


@dataclass(frozen=True)
class PredictionSelection:
    """Which predictions of a run a listing shows (None: no restriction)."""

    model_run_id: int
    dataset_id: int
    labels: Sequence[str] | None = None
    confidence_min: float | None = None
    confidence_max: float | None = None
    items: dict[str, Any] | None = None


async def _prediction_items(
    session: AsyncSession, selection: PredictionSelection
) -> ColumnElement[bool] | None:
    if not selection.items:
        return None
    return await items_clause(
        session,
        dataset_id=selection.dataset_id,
        filter=selection.items,
        path="filter.items",
        model_run_id=selection.model_run_id,
    )


async def page_predictions(
    session: AsyncSession, *, selection: PredictionSelection, after_id: int | None, limit: int
) -> Page[tables.Prediction]:
    return await reads.page_predictions(
        session=session,
        model_run_id=selection.model_run_id,
        labels=selection.labels,
        confidence_min=selection.confidence_min,
        confidence_max=selection.confidence_max,
        items=await _prediction_items(session, selection),
        after_id=after_id,
        limit=limit,
    )


async def count_predictions(session: AsyncSession, *, selection: PredictionSelection) -> int:
    return await reads.count_predictions(
        session=session,
        model_run_id=selection.model_run_id,
        labels=selection.labels,
        confidence_min=selection.confidence_min,
        confidence_max=selection.confidence_max,
        items=await _prediction_items(session, selection),
    )
