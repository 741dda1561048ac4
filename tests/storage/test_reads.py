"""Keyset pages, counts and the batch loads behind DataLoaders, on both backends."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.storage import reads, tables
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.filters import item_filter_clause


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, list[int]]:
    async with transaction(sessions) as session:
        first, second = tables.Dataset(name="a"), tables.Dataset(name="b")
        session.add_all([first, second])
        await session.flush()
        assert first.id and second.id
        items = [tables.Item(dataset_id=first.id, reference_id=f"r{i}") for i in range(7)]
        session.add_all([*items, tables.Item(dataset_id=second.id, reference_id="other")])
        await session.flush()
        item_ids = [int(item.id or 0) for item in items]
        for item_id, label in zip(item_ids[:3], ("car", "person", "car"), strict=True):
            session.add(
                tables.Annotation(
                    dataset_id=first.id,
                    item_id=item_id,
                    annotation_id="a",
                    label=label,
                    type="CATEGORY",
                )
            )
        model = tables.Model(name="m", reference_id="m")
        session.add(model)
        await session.flush()
        assert model.id
        session.add_all(
            [tables.ModelRun(model_id=model.id, dataset_id=first.id, name=n) for n in ("x", "y")]
        )
        return first.id, second.id, item_ids


async def test_keyset_pages_walk_every_row_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    dataset_id, _, item_ids = await _seed(sessions)
    async with read_session(sessions) as session:
        where = item_filter_clause(
            None, dataset_id=dataset_id, model_run_id=None, dialect=session.get_bind().dialect.name
        )
        seen: list[int] = []
        after = None
        pages = 0
        while True:
            page = await reads.page_items(session=session, where=where, after_id=after, limit=3)
            seen += [int(row.id or 0) for row in page.rows]
            pages += 1
            if not page.has_next:
                break
            after = seen[-1]
        assert seen == item_ids and pages == 3
        assert await reads.count_items(session=session, where=where) == 7
        empty = await reads.page_items(session=session, where=where, after_id=item_ids[-1], limit=3)
        assert empty.rows == [] and not empty.has_next
        datasets = await reads.page_datasets(session=session, after_id=None, limit=1)
        assert [d.name for d in datasets.rows] == ["a"] and datasets.has_next
        assert await reads.count_datasets(session=session) == 2


async def test_batch_loads(sessions: async_sessionmaker[AsyncSession]) -> None:
    dataset_id, other_id, item_ids = await _seed(sessions)
    async with read_session(sessions) as session:
        rows = await reads.rows_by_ids(
            session=session, table=tables.Item, ids=[item_ids[2], 999_999, item_ids[0]]
        )
        assert sorted(int(r.id or 0) for r in rows) == [item_ids[0], item_ids[2]]
        annotations = await reads.annotations_by_item_ids(session=session, item_ids=item_ids)
        assert [(a.item_id, a.label) for a in annotations] == list(
            zip(item_ids[:3], ("car", "person", "car"), strict=True)
        )
        labels = await reads.labels_by_dataset_ids(
            session=session, dataset_ids=[dataset_id, other_id]
        )
        assert labels == [(dataset_id, "car"), (dataset_id, "person")]
        runs = await reads.rows_by_parent_ids(
            session=session,
            table=tables.ModelRun,
            parent_column="dataset_id",
            parent_ids=[dataset_id],
        )
        assert [run.name for run in runs] == ["x", "y"]
        assert await reads.rows_by_ids(session=session, table=tables.Item, ids=[]) == []
        page = await reads.page_annotations(
            session=session, dataset_id=dataset_id, labels=["car"], after_id=None, limit=10
        )
        assert len(page.rows) == 2
        assert (
            await reads.count_annotations(session=session, dataset_id=dataset_id, labels=None) == 3
        )
        assert await reads.count_annotations(session=session, dataset_id=dataset_id, labels=[]) == 0
