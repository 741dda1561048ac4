"""Pages of one parent's children, for the paged fields beside the capped unpaged lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from sliceboard.storage import child_pages
from sliceboard.storage.pagination import Page

TableT = TypeVar("TableT", bound=SQLModel)


async def page_children(
    session: AsyncSession,
    *,
    table: type[TableT],
    parent: Mapping[str, int],
    after_id: int | None,
    limit: int,
) -> Page[TableT]:
    return await child_pages.page_children(
        session=session, table=table, parent=parent, after_id=after_id, limit=limit
    )


async def count_children(
    session: AsyncSession, *, table: type[TableT], parent: Mapping[str, int]
) -> int:
    return await child_pages.count_children(session=session, table=table, parent=parent)
