"""resolve_item_ids: a filter and/or a saved slice become the item ids the metrics aggregate over."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.errors import InvalidInput, NotFound
from sliceboard.services import catalog, uploads
from sliceboard.services.slices import resolve_item_ids
from sliceboard.storage.db import read_session, transaction

RAIN: dict[str, Any] = {"metadata": {"field": "weather", "op": "EQ", "value": "rain"}}


async def _dataset(
    sessions: async_sessionmaker[AsyncSession], name: str
) -> tuple[int, dict[str, int]]:
    async with transaction(sessions) as session:
        dataset = await catalog.create_dataset(session, name=name, metadata=None)
        assert dataset.id is not None
        items = [
            {
                "reference_id": f"{name}-{i}",
                "metadata": {"weather": "rain" if i % 2 else "sun", "i": i},
            }
            for i in range(6)
        ]
        await uploads.upsert_items(
            session, dataset_id=str(dataset.id), items=items, update=False, max_rows=100
        )
    async with read_session(sessions) as session:
        every = await resolve_item_ids(
            session, dataset_id=dataset.id, filter=None, slice_id=None, model_run_id=None
        )
    return dataset.id, {f"{name}-{i}": item_id for i, item_id in enumerate(every)}


async def test_filter_slice_and_both(sessions: async_sessionmaker[AsyncSession]) -> None:
    dataset_id, ids = await _dataset(sessions, "a")
    other_id, _ = await _dataset(sessions, "b")
    async with transaction(sessions) as session:
        rainy = await catalog.create_slice(
            session, dataset_id=str(dataset_id), name="rainy", filter=RAIN, reference_ids=None
        )
        fixed = await catalog.create_slice(
            session,
            dataset_id=str(dataset_id),
            name="fixed",
            filter=None,
            reference_ids=["a-0", "a-1", "a-2"],
        )
        foreign = await catalog.create_slice(
            session, dataset_id=str(other_id), name="x", filter=RAIN, reference_ids=None
        )

    async def resolve(filter: dict[str, Any] | None, slice_id: object | None) -> list[int]:
        async with read_session(sessions) as session:
            return await resolve_item_ids(
                session,
                dataset_id=dataset_id,
                filter=filter,
                slice_id=None if slice_id is None else str(slice_id),
                model_run_id=None,
            )

    assert await resolve(None, None) == sorted(ids.values())
    assert await resolve(RAIN, None) == [ids["a-1"], ids["a-3"], ids["a-5"]]
    assert await resolve(None, rainy.id) == [ids["a-1"], ids["a-3"], ids["a-5"]]
    assert await resolve(None, fixed.id) == [ids["a-0"], ids["a-1"], ids["a-2"]]
    # Filter AND slice.
    assert await resolve(RAIN, fixed.id) == [ids["a-1"]]
    assert await resolve({"metadata": {"field": "i", "op": "GT", "value": 3}}, rainy.id) == [
        ids["a-5"]
    ]
    # A slice of another dataset names nothing here.
    with pytest.raises(NotFound) as raised:
        await resolve(None, foreign.id)
    assert raised.value.path == "sliceId"
    with pytest.raises(NotFound):
        await resolve(None, "abc")
    with pytest.raises(InvalidInput) as invalid:
        await resolve({"metadata": {"field": "x", "op": "NOPE"}}, None)
    assert invalid.value.issues[0].path == "filter.metadata.op"
