"""Keyset pages of one parent's children (an item's annotations, a dataset's runs): the paged
twins of the unpaged lists that are cut at ``Settings.max_list_items``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from sliceboard.storage.pagination import Page, count_rows, fetch_page

TableT = TypeVar("TableT", bound=SQLModel)


def _children(table: type[TableT], parent: Mapping[str, int]) -> sa.Select[Any]:
    columns = table.__table__.c  # type: ignore[attr-defined]
    return sa.select(table).where(*(columns[name] == value for name, value in parent.items()))


async def page_children(
    *,
    session: AsyncSession,
    table: type[TableT],
    parent: Mapping[str, int],
    after_id: int | None,
    limit: int,
) -> Page[TableT]:
    """Rows of ``table`` whose columns equal ``parent`` (e.g. ``{"item_id": 7}``), in id order."""
    statement = _children(table, parent)
    id_column = table.__table__.c["id"]  # type: ignore[attr-defined]
    return await fetch_page(
        session=session, statement=statement, id_column=id_column, after_id=after_id, limit=limit
    )


async def count_children(
    *, session: AsyncSession, table: type[TableT], parent: Mapping[str, int]
) -> int:
    return await count_rows(session=session, statement=_children(table, parent))
