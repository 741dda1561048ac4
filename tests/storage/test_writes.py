"""The write SQL on both databases: ON CONFLICT behaviour and key lookups."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.storage import catalog_writes, upload_writes
from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Item, core, utcnow

ITEM = core(Item)

Sessions = async_sessionmaker[AsyncSession]


def _item_row(dataset_id: int, ref: str, width: int | None = None) -> dict[str, object]:
    return {
        "dataset_id": dataset_id,
        "reference_id": ref,
        "url": None,
        "width": width,
        "height": None,
        "metadata": {"n": ref},
        "created_at": utcnow(),
    }


async def test_insert_unique_returns_none_when_taken(sessions: Sessions) -> None:
    async with transaction(sessions) as session:
        first = await catalog_writes.insert_dataset(session=session, name="d", metadata=None)
        again = await catalog_writes.insert_dataset(session=session, name="d", metadata={"x": 1})
        # Same transaction still usable after the refused insert (PostgreSQL would abort on an error).
        other = await catalog_writes.insert_dataset(session=session, name="e", metadata=None)
    assert first is not None and again is None and other is not None and other != first
    async with transaction(sessions) as session:
        assert await catalog_writes.delete_dataset(session=session, dataset_id=other) is True
        assert await catalog_writes.delete_dataset(session=session, dataset_id=other) is False


async def test_upsert_rows_do_nothing_or_update(sessions: Sessions) -> None:
    async with transaction(sessions) as session:
        dataset_id = await catalog_writes.insert_dataset(session=session, name="d", metadata=None)
        assert dataset_id is not None
        await upload_writes.upsert_item_rows(
            session=session,
            rows=[_item_row(dataset_id, "a", 1), _item_row(dataset_id, "b", 1)],
            update=False,
        )
        await upload_writes.upsert_item_rows(
            session=session, rows=[_item_row(dataset_id, "a", 2)], update=False
        )
        await upload_writes.upsert_item_rows(
            session=session, rows=[_item_row(dataset_id, "b", 3)], update=True
        )
    async with sessions() as session:
        rows = (
            await session.execute(
                sa.select(ITEM.c.reference_id, ITEM.c.width).order_by(ITEM.c.reference_id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [("a", 1), ("b", 3)]


async def test_item_lookups_read_the_given_keys_of_one_dataset(sessions: Sessions) -> None:
    refs = [f"r{i}" for i in range(10)]
    async with transaction(sessions) as session:
        dataset_id = await catalog_writes.insert_dataset(session=session, name="d", metadata=None)
        other_id = await catalog_writes.insert_dataset(session=session, name="o", metadata=None)
        assert dataset_id is not None and other_id is not None
        await upload_writes.upsert_item_rows(
            session=session, rows=[_item_row(dataset_id, r) for r in refs], update=False
        )
        await upload_writes.upsert_item_rows(
            session=session, rows=[_item_row(other_id, "only-other")], update=False
        )
        ids = await upload_writes.select_item_ids(
            session=session,
            dataset_id=dataset_id,
            reference_ids=[*refs, "r3", "missing", "only-other"],  # a repeat, two absent
        )
        values = await upload_writes.select_items(
            session=session, dataset_id=dataset_id, reference_ids=["r7", "r8", "missing"]
        )
        none = await upload_writes.select_item_ids(
            session=session, dataset_id=dataset_id, reference_ids=[]
        )
    assert sorted(ids) == sorted(refs) and len(set(ids.values())) == 10
    assert sorted(values) == ["r7", "r8"]
    assert values["r7"] == {"url": None, "width": None, "height": None, "metadata": {"n": "r7"}}
    assert none == {}


async def test_lookup_leaves_the_plan_cache_mode_as_it_found_it(sessions: Sessions) -> None:
    """On PostgreSQL a lookup plans per call (see upload_writes), and only the lookup does."""
    async with transaction(sessions) as session:
        dataset_id = await catalog_writes.insert_dataset(session=session, name="d", metadata=None)
        assert dataset_id is not None
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(sa.text("SET LOCAL plan_cache_mode = force_generic_plan"))
        await upload_writes.select_item_ids(
            session=session, dataset_id=dataset_id, reference_ids=["a"]
        )
        if session.get_bind().dialect.name == "postgresql":
            mode = await session.scalar(sa.text("SELECT current_setting('plan_cache_mode')"))
            assert mode == "force_generic_plan"
