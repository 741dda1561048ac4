"""The database fixtures give a migrated, empty database on each backend."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Dataset


async def test_database_is_migrated_and_empty(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        assert (await session.execute(select(Dataset))).all() == []
        session.add(Dataset(name="a"))
    async with sessions() as session:
        names = (await session.execute(select(Dataset.name))).scalars().all()
    assert names == ["a"]
