"""The driver-level batch write stores what SQLAlchemy's own executemany stored, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.storage import catalog_writes, upload_writes
from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Item, core

ITEM = core(Item)
Sessions = async_sessionmaker[AsyncSession]


async def test_values_round_trip_through_the_driver_path(sessions: Sessions) -> None:
    created = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    rows = [
        {
            # Keys in another order than the table's columns: parameters follow the SQL.
            "metadata": meta,
            "reference_id": ref,
            "created_at": created,
            "dataset_id": 0,
            "url": None,
            "width": 640,
            "height": None,
        }
        for ref, meta in (("a", {"k": [1, 2.5, None]}), ("b", None))
    ]
    async with transaction(sessions) as session:
        dataset_id = await catalog_writes.insert_dataset(session=session, name="d", metadata=None)
        assert dataset_id is not None
        for row in rows:
            row["dataset_id"] = dataset_id
        await upload_writes.upsert_item_rows(session=session, rows=rows, update=False)
    async with sessions() as session:
        stored = (
            await session.execute(
                sa.select(
                    ITEM.c.reference_id,
                    ITEM.c.metadata,
                    ITEM.c.width,
                    ITEM.c.created_at,
                    ITEM.c.metadata.is_(None),
                ).order_by(ITEM.c.reference_id)
            )
        ).all()
    assert [tuple(r[:3]) for r in stored] == [("a", {"k": [1, 2.5, None]}, 640), ("b", None, 640)]
    assert stored[1][4] is True  # None is SQL NULL, not the JSON text 'null'
    assert all(r[3].replace(tzinfo=UTC) == created for r in stored)


async def test_a_key_that_is_no_column_is_refused(sessions: Sessions) -> None:
    async with transaction(sessions) as session:
        with pytest.raises(ValueError, match="not columns"):
            await upload_writes.upsert_item_rows(
                session=session,
                rows=[{"dataset_id": 1, "reference_id": "a", "created_at": None, "nope": 1}],
                update=False,
            )
