"""SQL of file imports and exports that the upload and read modules do not already have."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.storage.tables import Dataset, core

DATASET = core(Dataset)


async def set_dataset_metadata_key(
    *, session: AsyncSession, dataset: Dataset, key: str, value: Any
) -> None:
    """Sets one top-level key of the dataset's metadata (the row is locked by the caller)."""
    metadata = dict(dataset.metadata_ or {})
    metadata[key] = value
    await session.execute(
        sa.update(DATASET).where(DATASET.c.id == dataset.id).values(metadata=metadata)
    )
