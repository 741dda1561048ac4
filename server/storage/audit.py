"""The audit log's queries: write an entry, correct its outcome, read it newest first."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.storage.pagination import Page, count_rows
from sliceboard.storage.tables import AuditEntry

_table: Any = AuditEntry.__table__  # type: ignore[attr-defined]


async def insert_audit_entry(*, session: AsyncSession, entry: AuditEntry) -> int:
    """Adds ``entry`` in the session's transaction; its id."""
    session.add(entry)
    await session.flush()
    assert entry.id is not None
    return entry.id


async def update_audit_outcome(
    *, session: AsyncSession, entry_id: int, outcome: str, message: str | None
) -> None:
    await session.execute(
        sa.update(AuditEntry)
        .where(_table.c.id == entry_id)
        .values(outcome=outcome, message=message)
    )


def _selection(
    *, dataset_id: int | None, key_id: int | None, operation: str | None
) -> sa.Select[Any]:
    statement = sa.select(AuditEntry)
    if dataset_id is not None:
        statement = statement.where(_table.c.dataset_id == dataset_id)
    if key_id is not None:
        statement = statement.where(_table.c.key_id == key_id)
    if operation is not None:
        statement = statement.where(_table.c.operation == operation)
    return statement


async def page_audit_entries(
    *,
    session: AsyncSession,
    before_id: int | None,
    limit: int,
    dataset_id: int | None = None,
    key_id: int | None = None,
    operation: str | None = None,
) -> Page[AuditEntry]:
    """Newest first: the ``limit`` entries with an id below ``before_id`` (one extra row tells
    whether more exist)."""
    statement = _selection(dataset_id=dataset_id, key_id=key_id, operation=operation)
    if before_id is not None:
        statement = statement.where(_table.c.id < before_id)
    statement = statement.order_by(_table.c.id.desc()).limit(limit + 1)
    rows = list((await session.execute(statement)).scalars())
    return Page(rows=rows[:limit], has_next=len(rows) > limit)


async def count_audit_entries(
    *,
    session: AsyncSession,
    dataset_id: int | None = None,
    key_id: int | None = None,
    operation: str | None = None,
) -> int:
    statement = _selection(dataset_id=dataset_id, key_id=key_id, operation=operation)
    return await count_rows(session=session, statement=statement)
