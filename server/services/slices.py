"""Which items a filter and/or a saved slice select: the one place both become SQL.

A slice is either a saved ``ItemFilter`` (dynamic: new items that match join it) or a fixed
list of referenceIds; both become the same filter dict, so everything downstream (pages,
counts, metrics) treats them alike.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from sliceboard.errors import NotFound
from sliceboard.services.ids import require_id
from sliceboard.storage import tables
from sliceboard.storage.db import dialect_of
from sliceboard.storage.filters import item_filter_clause, validate_item_filter
from sliceboard.storage.reads import rows_by_ids, select_item_ids


def slice_filter(row: tables.Slice) -> dict[str, Any]:
    """The saved slice as one item filter (its filter AND its referenceIds, when both are set)."""
    parts: list[dict[str, Any]] = []
    if row.filter:
        parts.append(row.filter)
    if row.reference_ids is not None:
        parts.append({"referenceIds": list(row.reference_ids)})
    return parts[0] if len(parts) == 1 else {"and": parts}


def filter_key(filter: dict[str, Any] | None, path: str = "filter") -> bytes | None:
    """A cache key for a filter: its JSON with sorted keys, once it has passed validation.

    Exact because validation admits only what JSON writes exactly (finite numbers, integers
    within 64 bits, valid text): orjson writes NaN and infinity as ``null``, which once gave
    ``value: 1e400`` the cached answer of ``value: -1e400``. Validating here, before any cache
    is looked at, keeps a refused filter from reaching the entry of an accepted one.
    """
    if not filter:
        return None
    validate_item_filter(filter, path)
    return orjson.dumps(filter, option=orjson.OPT_SORT_KEYS)


async def items_clause(
    session: AsyncSession,
    *,
    dataset_id: int,
    filter: dict[str, Any] | None,
    slice_id: str | None = None,
    model_run_id: int | None = None,
    path: str = "filter",
) -> ColumnElement[bool]:
    """WHERE clause over items of the dataset matching ``filter`` AND the slice ``slice_id``.

    Raises InvalidInput for a bad filter (issue paths start at ``path``) and NotFound for a slice
    that is not one of this dataset's.
    """
    if filter:
        validate_item_filter(filter, path)
    combined: dict[str, Any] | None = filter or None
    if slice_id is not None:
        key = require_id(slice_id, "Slice", "sliceId")
        found = await rows_by_ids(session=session, table=tables.Slice, ids=[key])
        if not found or found[0].dataset_id != dataset_id:
            raise NotFound("Slice", slice_id, "sliceId")
        saved = slice_filter(found[0])
        combined = {"and": [combined, saved]} if combined else saved
    return item_filter_clause(
        combined, dataset_id=dataset_id, model_run_id=model_run_id, dialect=dialect_of(session)
    )


async def resolve_item_ids(
    session: AsyncSession,
    *,
    dataset_id: int,
    filter: dict[str, Any] | None,
    slice_id: str | None,
    model_run_id: int | None,
) -> list[int]:
    """The item row ids (ascending) of a filter and/or a saved slice of ``dataset_id``."""
    where = await items_clause(
        session, dataset_id=dataset_id, filter=filter, slice_id=slice_id, model_run_id=model_run_id
    )
    return await select_item_ids(session=session, where=where)
