"""Keyset pages over a row id: ``WHERE id > :after ORDER BY id LIMIT n+1``.

Ids only grow, so a cursor stays valid while rows are added or deleted around it, and a page
costs the same at any depth (an OFFSET would rescan everything before it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

RowT = TypeVar("RowT")


@dataclass(frozen=True)
class Page(Generic[RowT]):
    rows: list[RowT]
    has_next: bool


async def fetch_page(
    *,
    session: AsyncSession,
    statement: Select[Any],
    id_column: Any,
    after_id: int | None,
    limit: int,
) -> Page[Any]:
    """The ``limit`` rows of ``statement`` after ``after_id`` in id order (one extra row tells if more exist)."""
    if after_id is not None:
        statement = statement.where(id_column > after_id)
    rows = list((await session.execute(statement.order_by(id_column).limit(limit + 1))).scalars())
    return Page(rows=rows[:limit], has_next=len(rows) > limit)


async def count_rows(*, session: AsyncSession, statement: Select[Any]) -> int:
    """How many rows ``statement`` yields (ignoring any cursor)."""
    counted = sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
    return int((await session.execute(counted)).scalar_one())
